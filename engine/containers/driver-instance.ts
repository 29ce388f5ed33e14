// The network driver the engine uses, with container lookup for container:<ref>.
import { createEngineDriver } from '../network/engine-driver.js';
import type { NetworkDriver, NetworkTarget } from '../network/driver.js';
import { parseNetMode } from '../network/modes.js';
import type { ContainerConfig } from './model.js';
import { getContainer } from './store.js';

export const driver: NetworkDriver = createEngineDriver({
  resolveContainer(ref) {
    const c = getContainer(ref);
    return { id: c.config.id, name: c.config.name, running: c.state.status === 'running', pid: c.state.pid, attachment: c.state.network };
  },
});

export function networkTarget(cfg: ContainerConfig): NetworkTarget {
  return {
    id: cfg.id,
    name: cfg.name,
    hostname: cfg.hostname,
    mode: parseNetMode(cfg.net),
    ip: cfg.ip,
    ...(cfg.ip6 ? { ip6: cfg.ip6 } : {}),
    ...(cfg.mac ? { mac: cfg.mac } : {}),
    aliases: cfg.aliases,
    ports: cfg.ports,
  };
}
