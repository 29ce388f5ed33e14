// Random names and addresses for links tsnet makes: host-side veth names ("veth" + 8 hex digits, as the
// reference plugins pick them) and locally administered unicast MACs.
import { randomBytes, randomHex } from '../../common/random.js';

export function randomVethName(prefix = 'veth'): string {
  return `${prefix}${randomHex(4)}`.slice(0, 15);
}

/** A random locally administered, unicast MAC (02:xx:…). */
export function randomMac(): string {
  const b = Buffer.from(randomBytes(6));
  b[0] = (b[0]! & 0xfe) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}
