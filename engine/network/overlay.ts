// `tsnet network rm` of an overlay network (loaded only for one): this host leaves it — its membership and
// address blocks go from the cluster store, its bridge and vxlan device from the kernel — and the last host to
// leave removes the network from the store. Other hosts keep using it until they leave too.
import { hostname } from 'node:os';
import { Netns } from '../../native/netns.js';
import type { NetworkRecord } from '../../ipam/networks.js';
import { removeOverlayDevices } from '../../plugins/shared/overlay-dataplane.js';
import { recordOf } from '../../ipam/cluster/local.js';

/** Leaves the overlay network `rec` on this host; returns what happened to the network in the store (and the kernel). */
export async function leaveOverlay(rec: NetworkRecord, opts: { force?: boolean } = {}): Promise<string[]> {
  const o = rec.options ?? {};
  if (!o.store) return [];
  const { ClusterStore } = await import('../../ipam/cluster/store.js');
  const store = new ClusterStore({ url: o.store, ...(o.tls ? { tls: o.tls } : {}) });
  const me = o.host ?? hostname();
  const notes: string[] = [];
  try {
    await store.leave(rec.name, me, { force: !!opts.force });
    const host = Netns.current();
    try {
      if (o.vni !== undefined) {
        const kept = await removeOverlayDevices(host, { vni: o.vni });
        if (kept) notes.push(`Warning: overlay network ${rec.name}: ${kept}`);
      }
    } finally {
      host.close();
    }
    const users = await store.users(rec.name);
    if (users.length === 0) {
      await store.removeNetwork(rec.name);
      notes.push(`overlay network ${rec.name}: host ${me} was the last to use it: removed from the store ${o.store}`);
    } else {
      notes.push(`overlay network ${rec.name}: host ${me} left it; it stays in the store ${o.store} for host(s) ${users.join(', ')}`);
    }
    return notes;
  } finally {
    store.close();
  }
}

/** The addresses this host handed out on the overlay network `rec` (its record; no etcd), as `network inspect` shows them. */
export function overlayAllocations(rec: NetworkRecord): Record<string, { containerID: string; ifname: string }> {
  const o = rec.options ?? {};
  if (!o.store) return {};
  const s = recordOf({ url: o.store }, o.host ?? hostname()).read();
  const out: Record<string, { containerID: string; ifname: string }> = {};
  for (const [a, owner] of Object.entries(s.networks[rec.name]?.addrs ?? {}))
    out[a] = { containerID: owner.containerId, ifname: owner.ifname };
  return out;
}
