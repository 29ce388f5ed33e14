// Container cgroups, v2 or v1 — whichever the host has.
//   v2 (/sys/fs/cgroup is cgroup2): one dir /sys/fs/cgroup/tsnet/<id> with memory.max (+ memory.swap.max 0),
//       pids.max, cpu.max "<quota> <period>"; the controllers are enabled in the parents' subtree_control.
//   v1 (tmpfs with one mount per controller, found in /proc/self/mountinfo): <mount>/tsnet/<id> in the memory,
//       pids, cpu and devices hierarchies, with memory.limit_in_bytes (+ memsw when swap accounting exists),
//       pids.max, cpu.cfs_quota_us/cpu.cfs_period_us, and the device allow-list (devices.deny a, then
//       devices.allow). On v2 the device allow-list would be a BPF program: not done (engine/README.md).
// The init helper joins the dirs, then unshares a cgroup namespace, so the container sees its own cgroup as /.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TsnetError } from '../../common/errors.js';
import { sleep } from '../util/files.js';

const CGROUP2_SUPER_MAGIC = 0x63677270;
const ROOT = '/sys/fs/cgroup';
const PARENT = 'tsnet';
export const CPU_PERIOD_US = 100_000;

export interface Limits {
  /** Bytes. */
  memory?: number;
  pidsLimit?: number;
  /** CPUs, e.g. 0.5. */
  cpus?: number;
}

export interface CgroupSet {
  version: 1 | 2;
  /** Directories the container's processes join. */
  dirs: string[];
  /** Where each controller's files are. */
  memory?: string;
  pids?: string;
  cpu?: string;
  /** v1 only: where the device allow-list is. */
  devices?: string;
}

/** Parses `--memory 64m` style sizes (b, k, m, g; case-insensitive; bare numbers are bytes). */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?$/i.exec(s.trim());
  if (!m) throw new TsnetError(`size '${s}'`, 'not understood', 'use a number with an optional unit: 512k, 64m, 1g');
  const mult = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2].toLowerCase() as 'k'];
  const v = Math.floor(parseFloat(m[1]) * mult);
  if (v < 6 * 1024 * 1024) throw new TsnetError(`memory limit '${s}'`, 'below the 6 MiB minimum', 'give at least 6m');
  return v;
}

/** cpu.max for --cpus: 0.5 → "50000 100000". */
export function cpuMax(cpus: number): string {
  if (!(cpus > 0)) throw new TsnetError(`--cpus ${cpus}`, 'must be a positive number', 'e.g. --cpus 0.5');
  return `${Math.max(1000, Math.round(cpus * CPU_PERIOD_US))} ${CPU_PERIOD_US}`;
}

export function cgroupVersion(): 1 | 2 {
  return Number(statfsSync(ROOT).type) === CGROUP2_SUPER_MAGIC ? 2 : 1;
}

/** v1 controller → mount point, from mountinfo (handles co-mounted "cpu,cpuacct"). */
export function v1Mounts(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!right) continue;
    const [fstype, , superOpts] = right.split(' ');
    if (fstype !== 'cgroup') continue;
    const mnt = left.split(' ')[4];
    for (const opt of (superOpts ?? '').split(',')) if (['memory', 'pids', 'cpu', 'devices'].includes(opt) && !out[opt]) out[opt] = mnt;
  }
  return out;
}

/** The dirs a container with this id uses (whether or not they exist yet). */
export function cgroupFor(id: string): CgroupSet {
  if (cgroupVersion() === 2) {
    const dir = join(ROOT, PARENT, id);
    return { version: 2, dirs: [dir], memory: dir, pids: dir, cpu: dir };
  }
  const m = v1Mounts();
  const set: CgroupSet = { version: 1, dirs: [] };
  for (const c of ['memory', 'pids', 'cpu', 'devices'] as const) {
    if (!m[c]) continue;
    const dir = join(m[c], PARENT, id);
    set[c] = dir;
    if (!set.dirs.includes(dir)) set.dirs.push(dir);
  }
  return set;
}

function write(dir: string, file: string, value: string): void {
  try {
    writeFileSync(join(dir, file), value);
  } catch (e) {
    throw new TsnetError(
      `cgroup ${join(dir, file)}`,
      `cannot write '${value}' (${(e as NodeJS.ErrnoException).code})`,
      'is the controller enabled for this cgroup and are you root?',
    );
  }
}

function enableV2Controllers(dir: string): void {
  const available = readFileSync(join(dir, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
  const want = ['memory', 'pids', 'cpu'].filter((c) => available.includes(c));
  if (want.length) write(dir, 'cgroup.subtree_control', want.map((c) => `+${c}`).join(' '));
}

/**
 * Creates the container's cgroup(s) and applies the limits and, on v1, the device allow-list (`devices.allow`
 * lines; undefined: every device, the container stays in the devices hierarchy's root).
 */
export function createCgroup(id: string, limits: Limits, deviceAllow?: string[]): CgroupSet {
  const set = cgroupFor(id);
  if (set.devices && !deviceAllow) {
    // every device: the container stays in the devices hierarchy's root (unless it shares a mount with another controller)
    if (![set.memory, set.pids, set.cpu].includes(set.devices)) set.dirs = set.dirs.filter((d) => d !== set.devices);
    delete set.devices;
  }
  if (set.version === 2) {
    mkdirSync(join(ROOT, PARENT), { recursive: true });
    enableV2Controllers(ROOT);
    enableV2Controllers(join(ROOT, PARENT));
  }
  for (const d of set.dirs) mkdirSync(d, { recursive: true });
  if (set.devices && deviceAllow) {
    write(set.devices, 'devices.deny', 'a');
    for (const rule of deviceAllow) write(set.devices, 'devices.allow', rule);
  }
  if (limits.memory !== undefined) {
    if (!set.memory)
      throw new TsnetError(
        '--memory',
        'the memory cgroup controller is not available',
        'enable it (cgroup_enable=memory) or drop --memory',
      );
    if (set.version === 2) {
      write(set.memory, 'memory.max', String(limits.memory));
      if (existsSync(join(set.memory, 'memory.swap.max'))) write(set.memory, 'memory.swap.max', '0');
    } else {
      write(set.memory, 'memory.limit_in_bytes', String(limits.memory));
      if (existsSync(join(set.memory, 'memory.memsw.limit_in_bytes')))
        write(set.memory, 'memory.memsw.limit_in_bytes', String(limits.memory));
    }
  }
  if (limits.pidsLimit !== undefined) {
    if (!set.pids) throw new TsnetError('--pids-limit', 'the pids cgroup controller is not available', 'enable it or drop --pids-limit');
    write(set.pids, 'pids.max', String(limits.pidsLimit));
  }
  if (limits.cpus !== undefined) {
    if (!set.cpu) throw new TsnetError('--cpus', 'the cpu cgroup controller is not available', 'enable it or drop --cpus');
    const [quota, period] = cpuMax(limits.cpus).split(' ');
    if (set.version === 2) write(set.cpu, 'cpu.max', `${quota} ${period}`);
    else {
      write(set.cpu, 'cpu.cfs_period_us', period);
      write(set.cpu, 'cpu.cfs_quota_us', quota);
    }
  }
  return set;
}

export function cgroupPids(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** True when the kernel OOM-killed something in the container's memory cgroup. */
export function oomKilled(set: CgroupSet): boolean {
  if (!set.memory) return false;
  try {
    const file = set.version === 2 ? 'memory.events' : 'memory.oom_control';
    const m = /oom_kill (\d+)/.exec(readFileSync(join(set.memory, file), 'utf8'));
    return !!m && Number(m[1]) > 0;
  } catch {
    return false;
  }
}

/** Kills whatever is still in the cgroups and removes them. Missing dirs are fine. */
export async function removeCgroup(set: CgroupSet): Promise<void> {
  for (const dir of set.dirs) {
    if (!existsSync(dir)) continue;
    for (let attempt = 0; ; attempt++) {
      for (const pid of cgroupPids(dir)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      try {
        for (const sub of readdirSync(dir, { withFileTypes: true })) if (sub.isDirectory()) rmdirSync(join(dir, sub.name));
        rmdirSync(dir);
        break;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') break;
        if (attempt >= 50)
          throw new TsnetError(`cgroup ${dir}`, `cannot remove (${code})`, 'processes may still be exiting; retry the command');
        await sleep(20);
      }
    }
  }
}
