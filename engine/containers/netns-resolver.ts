// Lets `tsnet attach`, `tsnet route` and the container plugin name engine containers by id or name: a
// running container's network namespace is the one its driver made (or, for host/container modes, its pid's).
import { TsnetError } from '../../common/errors.js';
import { netnsOf } from '../network/netns.js';
import { findContainer } from './store.js';

export function engineContainerNetns(ref: string): string | undefined {
  const c = findContainer(ref);
  if (!c) return undefined;
  if (c.state.status !== 'running' || !c.state.pid)
    throw new TsnetError(
      `container ${c.config.name}`,
      `is ${c.state.status}, not running`,
      `start a new one with 'tsnet run', or see 'tsnet ps -a'`,
    );
  const netns = netnsOf(c.state.network, c.state.pid);
  if (netns === 'host')
    throw new TsnetError(
      `container ${c.config.name}`,
      "shares the host's network namespace (--net host)",
      'change the host itself, or run the container with its own network',
    );
  return netns;
}
