// The lease keeper's process entry (spawned detached by startLeaseKeeper): its spec is the one argument.
import { runKeeper, type KeeperSpec } from './dhcp-keeper.js';

const spec = JSON.parse(process.argv[2] ?? '{}') as KeeperSpec;
runKeeper(spec).then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`tsnet-dhcp-keeper: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
