// Lets `tsnet attach`, `tsnet route` and the container plugin name engine containers by id or name: a
// running container's network namespace is the one its driver made (or, for host/container modes, its pid's).
import { findContainer } from '../containers/store.js';
import { TsnetError } from '../errors.js';

export function engineContainerNetns(ref: string): string | undefined {
  const c = findContainer(ref);
  if (!c) return undefined;
  if (c.state.status !== 'running' || !c.state.pid)
    throw new TsnetError(`container ${c.config.name}`, `is ${c.state.status}, not running`, `start a new one with 'tsnet run', or see 'tsnet ps -a'`);
  const netns = c.state.network?.netnsPath;
  return netns && netns !== 'host' ? netns : `/proc/${c.state.pid}/ns/net`;
}
