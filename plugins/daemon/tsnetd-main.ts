// Entry point for running tsnetd directly (`node dist/plugins/daemon/tsnetd-main.js`); `tsnet daemon` is the
// same daemon from the CLI.
import { runDaemon, sizeWorkerPool } from './tsnetd.js';

sizeWorkerPool();
void runDaemon().then((code) => process.exit(code));
