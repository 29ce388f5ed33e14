// Container lifecycle: create + start (run), stop, kill, remove, and the exit hook the init helper's
// supervisor runs when the container ends (network detach, cgroup removal, --rm).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { constants as osConstants, hostname as hostHostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { MNT_DETACH, native } from '../../native/addon.js';
import { TsnetError } from '../../common/errors.js';
import { newId, randomName, shortId, validateName } from '../ids.js';
import { getImage, imageById, lowerDirs } from '../images/store.js';
import { parseNetMode } from '../network/modes.js';
import type { PortMapping } from '../network/ports.js';
import { type Limits, createCgroup, oomKilled, removeCgroup, cgroupFor } from '../runtime/cgroups.js';
import { initBinary } from '../runtime/init-binary.js';
import { encodeInitConfig } from '../runtime/init-config.js';
import { procStartTime, sameProcessAlive } from '../runtime/proc.js';
import { readTextIfExists, sleep } from '../util/files.js';
import { driver, networkTarget } from './driver-instance.js';
import { writeEtcFiles } from './etc-files.js';
import type { Container, ContainerConfig } from './model.js';
import { files, getContainer, loadContainer, readExit, readPidFile, releaseName, reserveName, saveConfig, saveState, updateState } from './store.js';
import { exitStatus } from '../util/exit-code.js';

export interface RunOptions {
  image: string;
  cmd: string[];
  name?: string;
  hostname?: string;
  net?: string;
  ip?: string;
  ports?: PortMapping[];
  env?: string[];
  workdir?: string;
  limits?: Limits;
  autoRemove?: boolean;
  detached?: boolean;
}

/**
 * The CLI entry the supervisor runs when the container ends: the bundled CLI when it is built (one file,
 * faster to start), else the tsc output.
 */
function cliMain(): string {
  const bundle = fileURLToPath(new URL('../cli/tsnet.mjs', import.meta.url));
  return existsSync(bundle) ? bundle : fileURLToPath(new URL('../cli/main.js', import.meta.url));
}
export const EXIT_HOOK_COMMAND = '__container-exited';

/**
 * The supervisor's environment, which its exit hook (a Node start) inherits: ours, less NODE_EXTRA_CA_CERTS —
 * Node reads that whole file at start (~50 ms) and tsnet never speaks TLS.
 */
function hookEnv(): NodeJS.ProcessEnv {
  const { NODE_EXTRA_CA_CERTS: _unused, ...env } = process.env;
  return { ...env, TSNET_ROOT: process.env.TSNET_ROOT ?? '' };
}

function mergeEnv(base: string[], extra: string[]): string[] {
  const m = new Map<string, string>();
  for (const kv of [...base, ...extra]) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new TsnetError(`-e ${kv}`, 'expected KEY=VALUE', 'write -e NAME=value');
    m.set(kv.slice(0, i), kv);
  }
  return [...m.values()];
}

/** Validates options and writes config.json; reserves the name. */
export function createContainer(o: RunOptions): ContainerConfig {
  const img = getImage(o.image);
  parseNetMode(o.net); // fail early on a bad --net
  const cmd = [...(img.config.entrypoint ?? []), ...(o.cmd.length ? o.cmd : (img.config.cmd ?? []))];
  if (!cmd.length) throw new TsnetError(`image ${img.name}`, 'has no default command', 'give one after the image: tsnet run IMAGE sh -c ...');
  const id = newId();
  let name = o.name ? validateName(o.name) : randomName();
  for (let i = 0; ; i++) {
    try {
      reserveName(name, id);
      break;
    } catch (e) {
      if (o.name || i > 20) throw e;
      name = `${randomName()}${i > 5 ? `_${i}` : ''}`;
    }
  }
  const mode = parseNetMode(o.net);
  const hostname = o.hostname ?? (mode.kind === 'host' ? hostHostname() : shortId(id));
  if (!/^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,62})$/.test(hostname)) {
    releaseName(name, id);
    throw new TsnetError(`--hostname '${hostname}'`, 'not a valid hostname', 'use letters, digits, dots and dashes, at most 63');
  }
  const cfg: ContainerConfig = {
    id,
    name,
    image: img.name,
    imageId: img.id,
    created: new Date().toISOString(),
    cmd,
    env: mergeEnv(img.config.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], [`HOSTNAME=${hostname}`, ...(o.env ?? [])]),
    workdir: o.workdir ?? img.config.workingDir ?? '/',
    hostname,
    net: o.net ?? 'bridge',
    ip: o.ip,
    ports: o.ports ?? [],
    limits: o.limits ?? {},
    autoRemove: !!o.autoRemove,
    detached: !!o.detached,
  };
  try {
    saveConfig(cfg);
    saveState(id, { status: 'created' });
  } catch (e) {
    releaseName(name, id);
    throw e;
  }
  return cfg;
}

export interface Started {
  config: ContainerConfig;
  pid: number;
  /** Resolves with the container's exit code once the supervisor (and its exit hook) is done. */
  exited: Promise<number>;
  supervisorPid: number;
}

/**
 * Prepares cgroup, network and /etc files, spawns the init helper and waits until the command was exec'd.
 * Foreground containers get stdout/stderr piped to the given streams and to the log.
 */
export async function startContainer(cfg: ContainerConfig, io?: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }): Promise<Started> {
  const id = cfg.id;
  const img = imageById(cfg.imageId);
  try {
    const cgroup = createCgroup(id, cfg.limits);
    updateState(id, { cgroup });
    const network = await driver.attach(networkTarget(cfg));
    updateState(id, { network });
    for (const d of [files.upper(id), files.work(id), files.rootfs(id)]) mkdirSync(d, { recursive: true });
    const binds = writeEtcFiles(files.etc(id), cfg.hostname, network);
    rmSync(files.pid(id), { force: true });
    rmSync(files.exit(id), { force: true });
    writeFileSync(
      files.initConf(id),
      encodeInitConfig({
        rootfs: files.rootfs(id),
        lower: lowerDirs(img),
        upper: files.upper(id),
        work: files.work(id),
        netns: network.netnsPath === 'host' ? undefined : network.netnsPath,
        lo_up: network.loUp ? 1 : undefined,
        hostname: cfg.hostname,
        cgroup: cgroup.dirs,
        bind: binds,
        env: cfg.env,
        cwd: cfg.workdir,
        pidfile: files.pid(id),
        exitfile: files.exit(id),
        arg: cfg.cmd,
        onexit: [process.execPath, cliMain(), EXIT_HOOK_COMMAND, id],
      }),
    );
  } catch (e) {
    await cleanupAfterExit(id, { error: (e as Error).message }).catch(() => undefined);
    if (cfg.autoRemove) await removeContainer(id, { force: true }).catch(() => undefined);
    throw e;
  }

  const logFd = openSync(files.log(id), 'a', 0o640);
  const child = spawn(initBinary(), ['run', files.initConf(id)], {
    detached: true, // own session: the CLI's terminal signals and death do not reach it; the CLI forwards them
    stdio: io ? ['inherit', 'pipe', 'pipe'] : ['ignore', logFd, logFd],
    env: hookEnv(),
  });
  const supervisorPid = child.pid!;
  updateState(id, { supervisorPid, supervisorStart: procStartTime(supervisorPid), startedAt: new Date().toISOString() });
  let setupErr = '';
  if (io) {
    child.stdout!.on('data', (d: Buffer) => {
      writeFileSync(logFd, d);
      io.stdout.write(d);
    });
    child.stderr!.on('data', (d: Buffer) => {
      writeFileSync(logFd, d);
      const s = d.toString();
      if (s.includes('tsnet-init:')) {
        // setup failures become the one-line error below; the rest passes through
        const lines = s.split('\n');
        setupErr += lines.filter((l) => l.startsWith('tsnet-init:')).join('\n') + '\n';
        const rest = lines.filter((l) => !l.startsWith('tsnet-init:')).join('\n');
        if (rest.trim()) io.stderr.write(rest);
      } else io.stderr.write(d);
    });
  }
  const closed = new Promise<number>((resolve) => child.on('close', (code, signal) => resolve(exitStatus(code, signal))));
  const exited = closed.then((supervisorCode) => {
    try {
      closeSync(logFd);
    } catch {
      /* closed */
    }
    // the exit file, or (after --rm removed it) the exit hook's status, which is the container's code
    return readExit(id)?.code ?? supervisorCode;
  });
  if (!io) child.unref();

  // wait for the pid file (command exec'd) or the end of the supervisor
  let done = false;
  void closed.then(() => (done = true));
  for (;;) {
    const pid = readPidFile(id);
    if (pid) {
      updateState(id, { status: 'running', pid, pidStart: procStartTime(pid) });
      return { config: cfg, pid, exited, supervisorPid };
    }
    if (done || readExit(id)) {
      await exited;
      const log = setupErr || (readTextIfExists(files.log(id)) ?? '');
      const reason = log.split('\n').filter((l) => l.startsWith('tsnet-init:')).map((l) => l.replace(/^tsnet-init:\s*/, '')).join('; ') || `the init helper exited with ${readExit(id)?.code ?? 'no status'}`;
      const code = await exited;
      throw new TsnetError(`container ${cfg.name}`, `did not start: ${reason}`, reason.includes('exec ') ? 'check the command exists in the image' : `see 'tsnet logs ${cfg.name}' for the full output`, { exitCode: code === 126 || code === 127 ? code : 125 });
    }
    await sleep(5);
  }
}

/** Runs after the container ended (from the exit hook, stop, rm): network detach, cgroup removal. Idempotent. */
export async function cleanupAfterExit(id: string, extra: { error?: string } = {}): Promise<void> {
  const c = loadContainer(id);
  if (!c) return;
  const cgroup = c.state.cgroup ?? cgroupFor(id);
  const oom = c.state.oomKilled || oomKilled(cgroup);
  const errors: string[] = [];
  try {
    await driver.detach(networkTarget(c.config), c.state.network);
  } catch (e) {
    errors.push((e as Error).message);
  }
  try {
    await removeCgroup(cgroup);
  } catch (e) {
    errors.push((e as Error).message);
  }
  const exit = readExit(id);
  updateState(id, {
    status: c.state.status === 'removing' ? 'removing' : 'exited',
    oomKilled: oom,
    exitCode: exit?.code ?? c.state.exitCode,
    finishedAt: exit?.at ?? c.state.finishedAt ?? new Date().toISOString(),
    cleanedUp: errors.length === 0,
    ...(extra.error || errors.length ? { error: [extra.error, ...errors].filter(Boolean).join('; ') } : {}),
  });
  if (errors.length) throw new TsnetError(`container ${c.config.name}`, `cleanup incomplete: ${errors.join('; ')}`, `retry with 'tsnet rm -f ${c.config.name}'`);
}

/**
 * The exit hook (this process *is* the supervisor, exec'd): cleanup, then --rm. Returns the container's exit
 * code, which becomes the supervisor's, so a foreground `run --rm` still knows it after the files are gone.
 */
export async function containerExited(id: string): Promise<number> {
  const code = readExit(id)?.code ?? 125;
  try {
    await cleanupAfterExit(id);
  } finally {
    const c = loadContainer(id);
    if (c?.config.autoRemove) await removeContainer(id, { force: true, fromExitHook: true });
  }
  return code;
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(20);
  }
  return cond();
}

function signalPid(pid: number | undefined, sig: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/** Waits for the supervisor (and thus the exit hook) to finish; runs the cleanup itself if the supervisor is gone. */
async function settle(c: Container): Promise<void> {
  const sup = () => !sameProcessAlive(c.state.supervisorPid, c.state.supervisorStart);
  await waitFor(sup, 15000);
  const now = loadContainer(c.config.id);
  if (now && !now.state.cleanedUp) await cleanupAfterExit(c.config.id);
}

/** 'TERM', 'SIGTERM', '15' → 'SIGTERM'. */
export function signalName(sig: string): NodeJS.Signals {
  const table = osConstants.signals as unknown as Record<string, number>;
  const s = sig.toUpperCase();
  const name = /^\d+$/.test(s) ? Object.keys(table).find((k) => table[k] === Number(s)) : s.startsWith('SIG') ? s : `SIG${s}`;
  if (!name || !(name in table)) throw new TsnetError(`signal '${sig}'`, 'unknown', 'use a name like TERM, KILL, HUP or a number');
  return name as NodeJS.Signals;
}

export async function stopContainer(ref: string, timeoutSec = 10): Promise<Container> {
  const c = getContainer(ref);
  if (c.state.status === 'running') {
    signalPid(c.state.pid, 'SIGTERM');
    const exitedInTime = await waitFor(() => !!readExit(c.config.id) || !sameProcessAlive(c.state.pid, c.state.pidStart), timeoutSec * 1000);
    if (!exitedInTime) {
      signalPid(c.state.pid, 'SIGKILL');
      await waitFor(() => !sameProcessAlive(c.state.pid, c.state.pidStart), 5000);
    }
  }
  await settle(c);
  return loadContainer(c.config.id) ?? c;
}

export async function killContainer(ref: string, sig: NodeJS.Signals = 'SIGKILL'): Promise<Container> {
  const c = getContainer(ref);
  if (c.state.status !== 'running') throw new TsnetError(`container ${c.config.name}`, 'is not running', `see its state with 'tsnet ps -a'`);
  signalPid(c.state.pid, sig);
  if (sig === 'SIGKILL') {
    await waitFor(() => !sameProcessAlive(c.state.pid, c.state.pidStart), 5000);
    await settle(c);
  }
  return c;
}

/** Unmounts anything still mounted under the container dir in the host mount ns (normally nothing is). */
function unmountLeftovers(dir: string): void {
  let info: string;
  try {
    info = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return;
  }
  const mounts = info
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => !!m && (m === dir || m.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) {
    try {
      native().umount(m, MNT_DETACH);
    } catch {
      /* best effort; rm reports what remains */
    }
  }
}

export async function removeContainer(ref: string, opts: { force?: boolean; fromExitHook?: boolean } = {}): Promise<string> {
  const c = typeof ref === 'string' && /^[0-9a-f]{64}$/.test(ref) ? loadContainer(ref) : getContainer(ref);
  if (!c) return ref;
  const id = c.config.id;
  if (c.state.status === 'running') {
    if (!opts.force) throw new TsnetError(`container ${c.config.name}`, 'is running', `stop it first with 'tsnet stop ${c.config.name}', or use 'tsnet rm -f'`);
    signalPid(c.state.pid, 'SIGKILL');
    await waitFor(() => !sameProcessAlive(c.state.pid, c.state.pidStart), 5000);
  }
  if (!opts.fromExitHook) {
    if (c.state.status === 'created' && sameProcessAlive(c.state.supervisorPid, c.state.supervisorStart)) {
      signalPid(c.state.supervisorPid, 'SIGKILL');
    }
    // let a running exit hook finish, but do not depend on it
    await waitFor(() => !sameProcessAlive(c.state.supervisorPid, c.state.supervisorStart), 5000);
  }
  if (!loadContainer(id)) return id; // the exit hook removed it (--rm)
  updateState(id, { status: 'removing' });
  await cleanupAfterExit(id);
  unmountLeftovers(files.dir(id));
  rmSync(files.dir(id), { recursive: true, force: true });
  releaseName(c.config.name, id);
  if (existsSync(files.dir(id))) throw new TsnetError(`container ${c.config.name}`, `could not remove ${files.dir(id)}`, 'check for mounts under it');
  return id;
}
