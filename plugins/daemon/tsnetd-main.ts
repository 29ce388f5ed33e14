// Entry point for running tsnetd directly (`node dist/plugins/daemon/tsnetd-main.js`); `tsnet daemon` is the
// same daemon from the CLI.
import { runDaemon } from './tsnetd.js';

void runDaemon().then((code) => process.exit(code));
