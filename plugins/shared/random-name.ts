// Host-side interface names: "veth" + 8 hex digits, as the reference plugins pick them.
import { randomBytes } from 'node:crypto';

export function randomVethName(prefix = 'veth'): string {
  return `${prefix}${randomBytes(4).toString('hex')}`.slice(0, 15);
}
