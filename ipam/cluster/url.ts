// What the cluster store's users need without loading the etcd client: the store URL, its errors, the MAC
// an overlay address gets.
import { CniCode, TsnetError } from '../../common/errors.js';
import { parseAddr } from '../cidr.js';

/** The CNI code of "the store cannot be reached now" (the spec's "try again later"). */
export const STORE_UNAVAILABLE = CniCode.TryAgainLater;

export class ClusterStoreError extends TsnetError {}

/** The store named `url` cannot be reached (or answered nothing in time). */
export function unavailable(url: string, e: unknown): ClusterStoreError {
  const reason = (e as Error)?.message ?? String(e);
  return new ClusterStoreError(
    `cluster store ${url}`,
    `unreachable: ${reason.split('\n')[0]}`,
    'check that etcd runs there and this host can reach it (and its TLS flags); running containers keep their connectivity meanwhile',
    { cniCode: STORE_UNAVAILABLE, cause: e },
  );
}

/** etcd://h:p,h:p → ['http://h:p', …]; etcds:// → https. */
export function parseStoreUrl(url: string): { hosts: string[]; tls: boolean } {
  const m = /^(etcds?|https?):\/\/(.+)$/.exec(url.trim());
  if (!m) {
    throw new ClusterStoreError(`store "${url}"`, 'is not an etcd URL', 'write etcd://HOST:2379[,HOST:2379…] (etcds:// for TLS)', {
      cniCode: CniCode.InvalidNetworkConfig,
      exitCode: 2,
    });
  }
  const tls = m[1] === 'etcds' || m[1] === 'https';
  const hosts = m[2]!
    .split(',')
    .map((h) => h.trim().replace(/\/+$/, ''))
    .filter(Boolean)
    .map((h) => `${tls ? 'https' : 'http'}://${h.replace(/^(etcds?|https?):\/\//, '')}`);
  if (hosts.length === 0) {
    throw new ClusterStoreError(`store "${url}"`, 'names no host', 'write etcd://HOST:2379', {
      cniCode: CniCode.InvalidNetworkConfig,
      exitCode: 2,
    });
  }
  return { hosts, tls };
}

/** The MAC of a container's overlay interface: fixed by its address (as Docker's 02:42:…), so the store keeps only the address. */
export function macForAddress(addr: string): string {
  const a = parseAddr(addr);
  const v = a.value & 0xffffffffn;
  const b = [0x02, 0x42, Number((v >> 24n) & 0xffn), Number((v >> 16n) & 0xffn), Number((v >> 8n) & 0xffn), Number(v & 0xffn)];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}
