// RTM_GETNSID: struct rtgenmsg (padded to 4 bytes) + NETNSA_* attributes — the id a namespace gives another
// (what IFLA_LINK_NETNSID of a veth names), as `ip netns list-id` shows it.
import { AttrMap, NetlinkDecodeError, u32, type Attr } from './attrs.js';

export const RTM_NEWNSID = 88;
export const RTM_GETNSID = 90;
const NETNSA_NSID = 1;
const NETNSA_FD = 3;
/** NETNSA_NSID_NOT_ASSIGNED: the asking namespace has no id for the other. */
export const NSID_NOT_ASSIGNED = -1;

/** The request for the id of the namespace behind `fd` (an fd of this process), as the asking namespace sees it. */
export function encodeNsidQuery(fd: number): { fixed: Buffer; attrs: Attr[] } {
  return { fixed: Buffer.alloc(4), attrs: [u32(NETNSA_FD, fd)] };
}

export function decodeNsid(payload: Buffer): number {
  if (payload.length < 4) throw new NetlinkDecodeError(`rtgenmsg needs 4 bytes, got ${payload.length}`);
  return AttrMap.parse(payload, 4).s32(NETNSA_NSID) ?? NSID_NOT_ASSIGNED;
}
