// The kernel layer's public surface.
export { Netns, NetnsError, resolveNetnsPath, assertNetnsPath, netnsId } from './netns.js';
export { Rtnl, describeRoute } from './rtnl.js';
export type { LinkRef, RouteFilter } from './rtnl.js';
export { NetlinkError, isNetlinkError } from './netlink/errors.js';
export { NetlinkDecodeError } from './netlink/attrs.js';
export type { Link, LinkSpec, LinkChange, VethPeer } from './netlink/link.js';
export type { Address, AddressSpec } from './netlink/addr.js';
export type { RouteEntry, RouteSpec } from './netlink/route.js';
export type { Neighbour, NeighbourSpec } from './netlink/neigh.js';
export * as rtnlConst from './netlink/constants.js';
export { native, isSysError } from './addon.js';
export type { SysError } from './addon.js';
