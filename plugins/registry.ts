// tsnet's own plugins as libraries, by CNI type: what the engine, the daemon and `tsnet cni` call in-process
// (through the same skel dispatch as the executables). Anything else is exec'd from CNI_PATH.
import { bridgePlugin, bridgeSkel } from './bridge/bridge.js';
import type { InProcessRegistry } from './cni/invoke.js';
import { attachEntry } from './attach/plugin.js';
import { containerEntry } from './container/container.js';
import { hostEntry } from './host/host.js';
import { routeEntry } from './route/plugin.js';
import { loopbackPlugin, loopbackSkel } from './loopback/loopback.js';
import { nonePlugin, noneSkel } from './none/none.js';
import { tsnetIpamPlugin, tsnetIpamSkel } from './tsnet-ipam/plugin.js';

export function inProcessPlugins(): InProcessRegistry {
  return {
    bridge: { plugin: bridgePlugin, opts: bridgeSkel },
    loopback: { plugin: loopbackPlugin, opts: loopbackSkel },
    none: { plugin: nonePlugin, opts: noneSkel },
    'tsnet-ipam': { plugin: tsnetIpamPlugin, opts: tsnetIpamSkel },
    host: hostEntry,
    container: containerEntry,
    attach: attachEntry,
    route: routeEntry,
  } as InProcessRegistry;
}
