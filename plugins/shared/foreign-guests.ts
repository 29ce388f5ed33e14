// Guests that other container managers run, found as pipework finds them: an LXC container by its cgroup (the
// first task of `lxc.payload.NAME`, `lxc.payload/NAME` or `lxc/NAME` under any cgroup mount — LXC 4+, 3 and
// older), and a Docker container by name or id through Docker's API socket ($DOCKER_HOST when it is unix://…,
// else /var/run/docker.sock): GET /containers/NAME/json → State.Pid. Either gives a pid, whose
// /proc/PID/ns/net is the guest's network namespace.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { http } from '../../common/builtins.js';

/** Where the cgroup hierarchies are mounted (cgroup v1 controllers and the v2 unified one), from mountinfo. */
export function cgroupMounts(mountinfo = '/proc/self/mountinfo'): string[] {
  let text: string;
  try {
    text = readFileSync(mountinfo, 'utf8');
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of text.split('\n')) {
    // "36 25 0:31 / /sys/fs/cgroup/pids rw,… shared:9 - cgroup cgroup rw,pids"
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const fstype = line.slice(dash + 3).split(' ')[0];
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const mountPoint = line.slice(0, dash).split(' ')[4];
    if (mountPoint) out.push(mountPoint.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return [...new Set(out)];
}

/** The cgroup directories LXC gives container NAME, newest layout first. */
export function lxcCgroupDirs(name: string): string[] {
  return [`lxc.payload.${name}`, join('lxc.payload', name), join('lxc', name)];
}

/**
 * The pid of LXC container `name`: the first task in its cgroup, under any cgroup mount; undefined when no
 * cgroup of that name holds a process. `name` must be a plain name (no '/').
 */
export function lxcContainerPid(name: string, mounts = cgroupMounts()): { pid: number; cgroup: string } | undefined {
  if (!name || name.includes('/') || name === '.' || name === '..') return undefined;
  for (const m of mounts) {
    for (const d of lxcCgroupDirs(name)) {
      for (const f of ['cgroup.procs', 'tasks']) {
        const p = join(m, d, f);
        if (!existsSync(p)) continue;
        let first: string | undefined;
        try {
          first = readFileSync(p, 'utf8').split('\n').find(Boolean);
        } catch {
          continue;
        }
        if (first && /^\d+$/.test(first)) return { pid: Number(first), cgroup: join(m, d) };
      }
    }
  }
  return undefined;
}

/** Docker's API socket: $DOCKER_HOST when it is unix://PATH, else /var/run/docker.sock. */
export function dockerSocket(env: NodeJS.ProcessEnv = process.env): { path?: string; why?: string } {
  const h = env.DOCKER_HOST;
  if (h) {
    if (h.startsWith('unix://')) return { path: h.slice('unix://'.length) };
    return { why: `DOCKER_HOST=${h} is not a unix socket (a container's pid is only meaningful on this host)` };
  }
  return { path: '/var/run/docker.sock' };
}

export type DockerLookup =
  { found: true; pid: number; running: boolean; status: string; name: string; resolvConf?: string } | { found: false; why?: string };

/** Asks Docker about container `ref` (name or id). `why` says why Docker could not be asked (not running…). */
export function dockerContainer(ref: string, env: NodeJS.ProcessEnv = process.env, timeoutMs = 5000): Promise<DockerLookup> {
  const sock = dockerSocket(env);
  if (!sock.path) return Promise.resolve({ found: false, why: sock.why! });
  const socketPath = sock.path;
  if (!existsSync(socketPath)) return Promise.resolve({ found: false, why: `Docker is not running (no socket at ${socketPath})` });
  return new Promise((resolve) => {
    const req = http().request(
      { socketPath, path: `/containers/${encodeURIComponent(ref)}/json`, method: 'GET', headers: { Host: 'docker' }, timeout: timeoutMs },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          if (res.statusCode === 404) return resolve({ found: false });
          if (res.statusCode !== 200)
            return resolve({ found: false, why: `Docker at ${socketPath} answered ${res.statusCode}: ${body.trim().slice(0, 200)}` });
          try {
            const j = JSON.parse(body) as {
              Name?: string;
              ResolvConfPath?: string;
              State?: { Pid?: number; Running?: boolean; Status?: string };
            };
            resolve({
              found: true,
              pid: j.State?.Pid ?? 0,
              running: !!j.State?.Running,
              status: j.State?.Status ?? 'unknown',
              name: (j.Name ?? ref).replace(/^\//, ''),
              ...(j.ResolvConfPath ? { resolvConf: j.ResolvConfPath } : {}),
            });
          } catch {
            resolve({ found: false, why: `Docker at ${socketPath} answered something that is not JSON` });
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs / 1000}s`)));
    req.on('error', (e: NodeJS.ErrnoException) =>
      resolve({
        found: false,
        why:
          e.code === 'ECONNREFUSED' || e.code === 'ENOENT'
            ? `Docker is not running (nothing answers on ${socketPath})`
            : `Docker's socket ${socketPath} did not answer (${e.message})`,
      }),
    );
    req.end();
  });
}
