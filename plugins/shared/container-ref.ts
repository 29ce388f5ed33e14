// Resolves what users write for a container — a pid, a /proc/PID/ns/net or /run/netns/NAME path, a netns
// name, (through a resolver the engine registers) a tsnet container id or name, or as pipework does an LXC
// container's name or a Docker container's name or id (foreign-guests.ts) — to a netns path; and
// tells whether that netns is the host's own, which the commands that edit a container refuse to touch.
import { existsSync, statSync } from 'node:fs';
import { CniCode, TsnetError } from '../../common/errors.js';
import { NETNS_RUN_DIR } from '../../common/paths.js';
import { NetnsError, assertNetnsPath } from '../../native/netns.js';
import { dockerContainer, lxcContainerPid } from './foreign-guests.js';

/** Returns the netns path of a tsnet container id/name, or undefined when there is no such container. */
export type ContainerResolver = (ref: string) => string | undefined | Promise<string | undefined>;

let resolver: ContainerResolver | undefined;

/** The engine registers its container lookup here; pass undefined to remove it. */
export function setContainerResolver(fn: ContainerResolver | undefined): void {
  resolver = fn;
}

/** A container reference that names nothing usable: `ref`, why, and what to do. */
export class ContainerRefError extends TsnetError {
  constructor(
    readonly ref: string,
    reason: string,
    fix: string,
    /** true when nothing by that name exists (CNI code 3); false when it exists but is unusable. */
    readonly unknown: boolean,
  ) {
    super(`container ${JSON.stringify(ref)}`, reason, fix, {
      cniCode: unknown ? CniCode.UnknownContainer : CniCode.InvalidEnvironment,
      exitCode: 1,
    });
    this.name = 'ContainerRefError';
  }
}

export interface ResolvedContainer {
  /** nsfs path of its network namespace. */
  netnsPath: string;
  /** How to name it in messages. */
  label: string;
  /** The guest's own resolv.conf on this host, where one is known (a Docker container's ResolvConfPath). */
  resolvConf?: string;
}

const NAME_RE = /^[A-Za-z0-9_.][A-Za-z0-9_.:@-]*$/;

function checked(path: string, ref: string, label: string): ResolvedContainer {
  try {
    assertNetnsPath(path, ref);
  } catch (e) {
    if (e instanceof NetnsError) {
      throw new ContainerRefError(
        ref,
        e.reason,
        e.missing
          ? 'check the pid or path; the container may have stopped'
          : 'give a pid, /proc/PID/ns/net, /run/netns/NAME or a netns name',
        e.missing,
      );
    }
    throw e;
  }
  return { netnsPath: path, label };
}

export async function resolveContainer(ref: string): Promise<ResolvedContainer> {
  const r = ref.trim();
  if (!r)
    throw new ContainerRefError(ref, 'empty container reference', 'give a container id or name, a pid, a netns path or a netns name', true);
  if (/^\d+$/.test(r)) return checked(`/proc/${r}/ns/net`, r, `pid ${r}`);
  if (r.startsWith('/')) return checked(r, r, r);
  if (!NAME_RE.test(r) || r === '.' || r === '..')
    throw new ContainerRefError(
      r,
      'not a pid, an absolute path, a netns name or a container name',
      'give a container id or name, a pid, /proc/PID/ns/net, /run/netns/NAME or a netns name',
      true,
    );
  if (resolver) {
    const path = await resolver(r);
    if (path) return checked(path, r, `container ${r}`);
  }
  const nsPath = `${NETNS_RUN_DIR}/${r}`;
  try {
    assertNetnsPath(nsPath, r);
    return { netnsPath: nsPath, label: `netns ${r}` };
  } catch (e) {
    if (!(e instanceof NetnsError) || !e.missing) throw e;
  }
  // pipework's other guests: an LXC container (by its cgroup), then a Docker container (through Docker's API).
  const lxc = lxcContainerPid(r);
  if (lxc) return checked(`/proc/${lxc.pid}/ns/net`, r, `LXC container ${r}`);
  const docker = await dockerContainer(r);
  if (docker.found) {
    if (!docker.running || !docker.pid)
      throw new ContainerRefError(
        r,
        `is a Docker container that is not running (${docker.status})`,
        `start it ('docker start ${r}'), then attach again`,
        false,
      );
    const found = checked(`/proc/${docker.pid}/ns/net`, r, `docker container ${docker.name}`);
    return docker.resolvConf && existsSync(docker.resolvConf) ? { ...found, resolvConf: docker.resolvConf } : found;
  }
  throw new ContainerRefError(
    r,
    `unknown container: no netns ${nsPath}${resolver ? ', no tsnet container' : ''}, no LXC container` +
      (docker.why ? ` by that name, and Docker could not be asked: ${docker.why}` : ' and no Docker container by that name'),
    docker.why && !docker.why.startsWith('DOCKER_HOST')
      ? `if it is a Docker container, start Docker (or point DOCKER_HOST at its unix socket); else check the name with 'ip netns list'${resolver ? " or 'tsnet ps'" : ''}, or give a pid or /proc/PID/ns/net`
      : `check the name with 'ip netns list'${resolver ? ", 'tsnet ps'" : ''} or 'docker ps', or give a pid or /proc/PID/ns/net`,
    true,
  );
}

function sameFile(a: string, b: string): boolean {
  try {
    const x = statSync(a);
    const y = statSync(b);
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

/**
 * Why `netnsPath` is the host's own network namespace, or undefined when it is another one. The host's is
 * the one this process runs in (so /proc/self/ns/net, the pid of any host process, a host-mode container's
 * pid) and the one of pid 1 as this process sees it (the host's init, or the init of the pid namespace
 * tsnet runs in, even while tsnet itself runs in another netns).
 */
export function hostNetnsReason(netnsPath: string): string | undefined {
  if (sameFile(netnsPath, '/proc/self/ns/net')) return 'the network namespace tsnet runs in';
  if (sameFile(netnsPath, '/proc/1/ns/net')) return 'the network namespace of pid 1';
  return undefined;
}

/**
 * Throws when `c` is the host's own network namespace: commands that edit a container's network must not
 * edit the host's by mistake (`route del 1 default` would take the host's default route away). `doing` says
 * what would happen there, `fix` how to say it on purpose.
 */
export function refuseHostNetns(c: ResolvedContainer, ref: string, doing: string, fix: string): void {
  const why = hostNetnsReason(c.netnsPath);
  if (why) throw new ContainerRefError(ref, `is the host's network namespace (${why}): ${doing}`, fix, false);
}
