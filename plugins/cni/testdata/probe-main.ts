// Entry of the test-only probe plugin executable (bundled by the tests with build.mjs's bundlePlugin).
import { runPlugin } from '../skel.js';
import { schemaCheck } from '../validate.js';
import { bridgeValidator } from '../validators.js';
import { probePlugin } from './probe-plugin.js';

const bridgeCheck = schemaCheck(bridgeValidator);
void runPlugin({
  plugin: probePlugin,
  opts: {
    name: 'probe',
    about: 'tsnet test probe plugin',
    // The probe accepts bridge keys so the corpus can exercise a plugin schema.
    validate: (c) => bridgeCheck(c),
  },
});
