// `tsnet attach --wait [-i ifname]`, run inside the container (as pipework's): blocks until the interface
// exists and has carrier.
import { setTimeout as sleep } from 'node:timers/promises';
import { Netns } from '../../native/netns.js';
import { PluginError } from '../shared/errors.js';

export async function waitForCarrier(ifname: string, opts: { timeoutMs?: number; ns?: Netns; pollMs?: number } = {}): Promise<void> {
  const ns = opts.ns ?? Netns.current();
  const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
  try {
    for (;;) {
      const l = await ns.rtnl.findLink(ifname);
      if (l && l.up && l.carrier !== false && l.operstate !== 'down' && l.operstate !== 'lowerlayerdown') return;
      if (Date.now() >= deadline)
        throw new PluginError(
          `--wait ${ifname}`,
          l
            ? `${ifname} exists but has no carrier after ${opts.timeoutMs! / 1000}s`
            : `no interface ${ifname} appeared within ${opts.timeoutMs! / 1000}s`,
          'run the attach on the host for this container, or raise --timeout',
        );
      await sleep(opts.pollMs ?? 100);
    }
  } finally {
    if (!opts.ns) ns.close();
  }
}
