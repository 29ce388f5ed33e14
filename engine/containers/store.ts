// Containers on disk: <root>/containers/<id>/{config.json,state.json,pid,exit,container.log,…}, plus
// <root>/names/<name> (created with O_EXCL, so two runs can never take the same name).
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { TsnetError } from '../../common/errors.js';
import { ensureStateDir, paths } from '../paths.js';
import { readJsonIfExists, readTextIfExists, writeJsonAtomic } from '../util/files.js';
import type { Container, ContainerConfig, ContainerState } from './model.js';
import { sameProcessAlive } from '../runtime/proc.js';

export const files = {
  dir: (id: string) => paths.container(id),
  config: (id: string) => join(paths.container(id), 'config.json'),
  state: (id: string) => join(paths.container(id), 'state.json'),
  exit: (id: string) => join(paths.container(id), 'exit'),
  log: (id: string) => join(paths.container(id), 'container.log'),
  initConf: (id: string) => join(paths.container(id), 'init.conf'),
  upper: (id: string) => join(paths.container(id), 'upper'),
  work: (id: string) => join(paths.container(id), 'work'),
  rootfs: (id: string) => join(paths.container(id), 'rootfs'),
  etc: (id: string) => join(paths.container(id), 'etc'),
};

/** Reserves a name for an id; throws when it is taken. */
export function reserveName(name: string, id: string): void {
  ensureStateDir(paths.names());
  let fd: number;
  try {
    fd = openSync(paths.name(name), 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      const holder = readTextIfExists(paths.name(name))?.trim();
      if (holder && !existsSync(files.config(holder))) {
        rmSync(paths.name(name), { force: true }); // left by a crash before the container dir existed
        return reserveName(name, id);
      }
      throw new TsnetError(
        `container name '${name}'`,
        `already in use by ${holder?.slice(0, 12) ?? 'another container'}`,
        `remove it with 'tsnet rm ${name}' or pick another --name`,
      );
    }
    throw e;
  }
  writeSync(fd, id);
  closeSync(fd);
}

export function releaseName(name: string, id: string): void {
  const holder = readTextIfExists(paths.name(name))?.trim();
  if (holder === id) rmSync(paths.name(name), { force: true });
}

export function saveConfig(c: ContainerConfig): void {
  mkdirSync(files.dir(c.id), { recursive: true, mode: 0o710 });
  writeJsonAtomic(files.config(c.id), c);
}

/**
 * state.json is replaced atomically but not synced (a run writes it some seven times, and each fsync waits for
 * the disk): it describes processes, namespaces, cgroups and rules, which a power loss ends anyway. After one it
 * may be an older version — the cleanup it leads to is idempotent — or unreadable (readState).
 */
export function saveState(id: string, s: ContainerState): void {
  writeJsonAtomic(files.state(id), s, { sync: false });
}

/** The recorded state; an unreadable state.json (a power loss while it was replaced) reads as never started. */
function readState(id: string): ContainerState | undefined {
  try {
    return readJsonIfExists<ContainerState>(files.state(id));
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    return { status: 'created', error: 'state.json was unreadable (a power loss?); cleaned up as a container that never started' };
  }
}

export function updateState(id: string, patch: Partial<ContainerState>): ContainerState {
  const s = { ...(readState(id) ?? { status: 'created' as const }), ...patch };
  saveState(id, s);
  return s;
}

/** The exit code the helper wrote, with the time it wrote it. */
export function readExit(id: string): { code: number; at: string } | undefined {
  const t = readTextIfExists(files.exit(id));
  if (t === undefined || !t.trim()) return undefined;
  return { code: Number(t.trim()), at: statSync(files.exit(id)).mtime.toISOString() };
}

/**
 * Loads a container and reconciles its recorded state with the kernel: the exit file wins, then a live pid 1;
 * a recorded pid that is gone without an exit file means the supervisor died too (exit code 137).
 */
export function loadContainer(id: string): Container | undefined {
  const config = readJsonIfExists<ContainerConfig>(files.config(id));
  if (!config) return undefined;
  const state: ContainerState = readState(id) ?? { status: 'created' };
  if (state.status === 'removing') return { config, state };
  const exit = readExit(id);
  if (exit) {
    state.status = 'exited';
    state.exitCode = exit.code;
    state.finishedAt ??= exit.at;
    return { config, state };
  }
  if (state.pid) {
    if (sameProcessAlive(state.pid, state.pidStart)) state.status = 'running';
    else {
      state.status = 'exited';
      state.exitCode ??= 137;
      state.error ??= 'the container and its supervisor ended without an exit status (killed?)';
    }
  } else if (state.status === 'created' && state.supervisorPid && !sameProcessAlive(state.supervisorPid, state.supervisorStart)) {
    state.status = 'exited';
    state.exitCode ??= 125;
    state.error ??= 'the container never started';
  }
  return { config, state };
}

export function listContainers(): Container[] {
  if (!existsSync(paths.containers())) return [];
  const out: Container[] = [];
  for (const id of readdirSync(paths.containers())) {
    const c = loadContainer(id);
    if (c) out.push(c);
  }
  return out.sort((a, b) => b.config.created.localeCompare(a.config.created));
}

/** Finds by full id, name, or unique id prefix. */
export function findContainer(ref: string): Container | undefined {
  if (/^[0-9a-f]{64}$/.test(ref)) return loadContainer(ref);
  const named = readTextIfExists(paths.name(ref.replace(/^\//, '')))?.trim();
  if (named) {
    const c = loadContainer(named);
    if (c) return c;
  }
  if (/^[0-9a-f]{1,63}$/.test(ref) && existsSync(paths.containers())) {
    const hits = readdirSync(paths.containers()).filter((id) => id.startsWith(ref));
    if (hits.length > 1) throw new TsnetError(`container '${ref}'`, 'ambiguous id prefix', 'give more characters of the id, or the name');
    if (hits.length === 1) return loadContainer(hits[0]);
  }
  return undefined;
}

export function getContainer(ref: string): Container {
  const c = findContainer(ref);
  if (!c) throw new TsnetError(`container '${ref}'`, 'not found', "list containers with 'tsnet ps -a'");
  return c;
}
