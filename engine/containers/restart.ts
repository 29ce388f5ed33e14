// `tsnet start` and `tsnet restart`: an exited container runs again with what it was created with — its
// filesystem (the same upper layer), its name, its networks attached anew (a new address unless --ip pinned
// one, as Docker) — those `network connect` added too —, its published ports bound and ruled again.
import { TsnetError } from '../../common/errors.js';
import { sameProcessAlive } from '../runtime/proc.js';
import { cleanupAfterExit } from './cleanup.js';
import type { ContainerState } from './model.js';
import { startContainer } from './start.js';
import { connectNetwork } from './connect.js';
import { NetworkRegistry } from '../../ipam/networks.js';
import { parseNetMode } from '../network/modes.js';
import { stopContainer, waitFor } from './stop.js';
import { getContainer, saveState } from './store.js';

/** Starts a container that is not running (a running one is left alone, as docker start does). */
export async function startExisting(ref: string): Promise<string> {
  const c = getContainer(ref);
  const id = c.config.id;
  if (c.state.status === 'running') return id;
  if (c.state.status === 'removing')
    throw new TsnetError(`container ${c.config.name}`, 'is being removed', `wait, or 'tsnet rm -f ${c.config.name}'`);
  // an exit hook still at work finishes first; whatever it did not do is done here
  await waitFor(() => !sameProcessAlive(c.state.supervisorPid, c.state.supervisorStart), 10_000);
  if (!c.state.cleanedUp) await cleanupAfterExit(id);
  // the networks `network connect` added are connected again once it runs, as Docker keeps them; one that is
  // gone is refused before anything runs, as Docker refuses the start
  const again = getContainer(id).state.network?.connected ?? [];
  const registry = new NetworkRegistry();
  // so is a first network that is gone: the container stays as it was (its exit status kept), as Docker's
  const mode = parseNetMode(c.config.net);
  if (mode.kind === 'network' && !registry.get(mode.name))
    throw new TsnetError(
      `container ${c.config.name}`,
      `its network "${mode.name}" no longer exists`,
      `create it again with 'tsnet network create ${mode.name}', or run a new container`,
    );
  for (const x of again)
    if (!registry.get(x.network))
      throw new TsnetError(
        `container ${c.config.name}`,
        `network "${x.network}" it is connected to no longer exists`,
        `disconnect it first with 'tsnet network disconnect ${x.network} ${c.config.name}'`,
      );
  const fresh: ContainerState = { status: 'created' };
  saveState(id, fresh);
  await startContainer(getContainer(id).config);
  for (const x of again) await connectNetwork(x.network, id, x); // with the --ip/--ip6/--alias it was given
  return id;
}

export async function restartContainer(ref: string, timeoutSec: number): Promise<string> {
  const c = getContainer(ref);
  if (c.state.status === 'running') await stopContainer(c.config.id, timeoutSec);
  return startExisting(c.config.id);
}
