// CNI executable: the bridge plugin.
import { Netns } from '../../native/netns.js';
import { runPlugin } from '../cni/skel.js';
import { assertValid } from '../cni/validate.js';
import { bridgeValidator } from '../cni/validators.js';
import { bridgePlugin, type BridgeConf } from './bridge.js';

Netns.defaults = { blocking: true };
void runPlugin<BridgeConf>(bridgePlugin, {
  name: 'bridge',
  about: 'CNI bridge plugin (tsnet)',
  validate: (conf) => assertValid(bridgeValidator, conf, 'bridge'),
});
