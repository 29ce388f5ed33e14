// tsnet's own plugins as libraries, by CNI type: what the engine, the daemon and `tsnet cni` call in-process
// (through the same skel dispatch as the executables). Anything else is exec'd from CNI_PATH.
import type { InProcessRegistry } from './cni/invoke.js';
import type { PluginEntry } from './cni/skel.js';
import { attachEntry } from './attach/plugin.js';
import { bridgeEntry } from './bridge/plugin.js';
import { containerEntry } from './container/plugin.js';
import { hostEntry } from './host/plugin.js';
import { loopbackEntry } from './loopback/plugin.js';
import { noneEntry } from './none/plugin.js';
import { overlayEntry } from './overlay/plugin.js';
import { routeEntry } from './route/plugin.js';
import { tsnetDnsEntry } from './tsnet-dns/plugin.js';
import { tsnetIpamEntry } from './tsnet-ipam/plugin.js';

export function inProcessPlugins(): InProcessRegistry {
  return {
    bridge: bridgeEntry,
    loopback: loopbackEntry,
    none: noneEntry,
    'tsnet-ipam': tsnetIpamEntry,
    'tsnet-dns': tsnetDnsEntry as PluginEntry,
    host: hostEntry,
    container: containerEntry,
    attach: attachEntry,
    route: routeEntry,
    overlay: overlayEntry,
  };
}
