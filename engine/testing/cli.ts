// Test support: runs the built CLI against a private TSNET_ROOT, so tests never touch /var/lib/tsnet.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
/** The executable users run: the bundled CLI through its code-cache launcher (`npm run build:cni` builds it). */
export const BUNDLED_CLI = fileURLToPath(new URL('../cli/tsnet.cjs', import.meta.url));

export interface Out {
  status: number;
  stdout: string;
  stderr: string;
}

export class EngineFixture {
  /**
   * `host`: what plays the host — a netns name (/run/netns/NAME, entered with nsenter, which keeps this mount
   * namespace, /sys and the cgroup hierarchies), or a command line the CLI runs under (e.g. nsenter into a
   * namespace that plays the host, mounts included).
   */
  readonly wrap: string[];

  /** Added to the CLI's environment (e.g. TSNET_TRACE, TSNET_SOCKET). */
  extraEnv: NodeJS.ProcessEnv = {};

  /** `cli`: the entry run with node (default: the tsc output, main.js; BUNDLED_CLI for the bundle). */
  constructor(
    readonly root: string,
    host?: string | string[],
    readonly cli: string = CLI,
  ) {
    this.wrap = typeof host === 'string' ? ['nsenter', `--net=/run/netns/${host}`] : (host ?? []);
  }

  env(): NodeJS.ProcessEnv {
    return { ...process.env, TSNET_ROOT: this.root, ...this.extraEnv };
  }

  /** The argv that runs `tsnet ARGS` (in the namespace that plays the host, if there is one). */
  argv(...args: string[]): [string, string[]] {
    const [cmd, ...argv] = [...this.wrap, process.execPath, this.cli, ...args];
    return [cmd!, argv];
  }

  /** Runs `tsnet ARGS` and waits. */
  tsnet(...args: string[]): Out {
    const [cmd, argv] = this.argv(...args);
    const r = spawnSync(cmd, argv, { env: this.env(), encoding: 'utf8', timeout: 60_000 });
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  /** Like tsnet() but throws with stderr when the exit status is not 0. */
  ok(...args: string[]): string {
    const r = this.tsnet(...args);
    if (r.status !== 0) throw new Error(`tsnet ${args.join(' ')} exited ${r.status}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  /** Starts `tsnet ARGS` without waiting (for crash tests). */
  spawn(...args: string[]) {
    const [cmd, argv] = this.argv(...args);
    return spawn(cmd, argv, { env: this.env(), stdio: ['ignore', 'pipe', 'pipe'] });
  }

  inspect(ref: string): any {
    return JSON.parse(this.ok('inspect', ref))[0];
  }

  /** Every container id under this root. */
  ids(): string[] {
    const d = join(this.root, 'containers');
    return existsSync(d) ? readdirSync(d) : [];
  }

  /** rm -f of everything this root holds (cleanup). */
  removeAll(): void {
    for (const id of this.ids()) this.tsnet('rm', '-f', id);
  }
}

/** Kernel-side leftovers of a container: netns, cgroup dirs, mounts under its state dir. */
export function leftovers(root: string, id: string): string[] {
  const out: string[] = [];
  const short = id.slice(0, 12);
  if (existsSync(`/run/netns/tsnet-${short}`)) out.push(`netns /run/netns/tsnet-${short}`);
  for (const base of ['/sys/fs/cgroup', '/sys/fs/cgroup/memory', '/sys/fs/cgroup/pids', '/sys/fs/cgroup/cpu', '/sys/fs/cgroup/devices']) {
    const d = join(base, 'tsnet');
    if (!existsSync(d)) continue;
    for (const e of readdirSync(d)) if (e.startsWith(short)) out.push(`cgroup ${join(d, e)}`);
  }
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mnt = line.split(' ')[4];
    if (mnt && mnt.startsWith(join(root, 'containers', id))) out.push(`mount ${mnt}`);
  }
  if (existsSync(join(root, 'containers', id))) out.push(`state dir ${join(root, 'containers', id)}`);
  return out;
}
