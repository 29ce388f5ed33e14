// `tsnet run`, second half: cgroup, network, rootfs dirs and /etc files prepared, the init helper's config
// written, the helper spawned in its own session, and the wait until it has exec'd the command.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { TsnetError } from '../../common/errors.js';
import { imageById, lowerDirs } from '../images/store.js';
import { createCgroup } from '../runtime/cgroups.js';
import { initBinary } from '../runtime/init-binary.js';
import { encodeInitConfig } from '../runtime/init-config.js';
import { procStartTime } from '../runtime/proc.js';
import { confinementInitConfig, deviceAllowList, rootfsInitConfig } from '../runtime/security.js';
import { paths } from '../paths.js';
import { exitStatus } from '../util/exit-code.js';
import { readTextIfExists, sleep } from '../util/files.js';
import { releaseHeldPorts, reservePorts, type HeldPorts } from '../network/ports.js';
import { cleanupAfterExit } from './cleanup.js';
import { driver, networkTarget } from './driver-instance.js';
import { etcBinds, writeEtcFiles } from './etc-files.js';
import { parseNetMode } from '../network/modes.js';
import { exitHookArgv, hookEnv } from './exit-hook.js';
import type { ContainerConfig } from './model.js';
import { HELPER_PREFIX, teeOutput, type ForegroundIo } from './output-tee.js';
import { removeContainer } from './rm.js';
import { files, getContainer, readExit, readPidFile, updateState } from './store.js';

export interface Started {
  config: ContainerConfig;
  pid: number;
  /** Resolves with the container's exit code once the supervisor (and its exit hook) is done. */
  exited: Promise<number>;
  supervisorPid: number;
}

/** Cgroup, network, rootfs dirs, /etc files and the helper's init.conf; on failure, undoes them (and --rm). */
async function prepare(cfg: ContainerConfig, holdfds: number): Promise<void> {
  const id = cfg.id;
  const img = imageById(cfg.imageId);
  try {
    const cgroup = createCgroup(id, cfg.limits, cfg.security ? deviceAllowList(cfg.security) : undefined);
    updateState(id, { cgroup });
    const network = await driver.attach(networkTarget(cfg));
    updateState(id, { network });
    for (const d of [files.upper(id), files.work(id), files.rootfs(id)]) mkdirSync(d, { recursive: true });
    const mode = parseNetMode(cfg.net);
    // container:X shares X's /etc/hosts, /etc/resolv.conf and /etc/hostname (its own are not written)
    const binds =
      mode.kind === 'container'
        ? etcBinds(files.etc(getContainer(mode.ref).config.id))
        : writeEtcFiles(files.etc(id), cfg.hostname, network, { dns: cfg.dns, extraHosts: cfg.extraHosts });
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
        holdfds: holdfds || undefined,
        hostname: cfg.hostname,
        cgroup: cgroup.dirs,
        bind: binds,
        env: cfg.env,
        cwd: cfg.workdir,
        pidfile: files.pid(id),
        exitfile: files.exit(id),
        arg: cfg.cmd,
        onexit: exitHookArgv(id),
        ...rootfsInitConfig(cfg.security),
        ...confinementInitConfig(cfg.security, paths.seccompCache()),
      }),
    );
  } catch (e) {
    await cleanupAfterExit(id, { error: (e as Error).message }).catch(() => undefined);
    if (cfg.autoRemove) await removeContainer(id, { force: true }).catch(() => undefined);
    throw e;
  }
}

/** The one-line error of a start that failed: the helper's own lines, else its exit status. */
async function notStarted(cfg: ContainerConfig, exited: Promise<number>, setupErr: () => string): Promise<TsnetError> {
  const id = cfg.id;
  const code = await exited;
  const log = setupErr() || (readTextIfExists(files.log(id)) ?? '');
  const helperLines = log.split('\n').filter((l) => l.startsWith(HELPER_PREFIX));
  const reason =
    helperLines.map((l) => l.slice(HELPER_PREFIX.length).trimStart()).join('; ') ||
    `the init helper exited with ${readExit(id)?.code ?? 'no status'}`;
  const fix = reason.includes('exec ') ? 'check the command exists in the image' : `see 'tsnet logs ${cfg.name}' for the full output`;
  return new TsnetError(`container ${cfg.name}`, `did not start: ${reason}`, fix, { exitCode: code === 126 || code === 127 ? code : 125 });
}

/**
 * Prepares cgroup, network and /etc files, spawns the init helper and waits until the command was exec'd.
 * Foreground containers get stdout/stderr piped to the given streams and to the log.
 */
export async function startContainer(cfg: ContainerConfig, io?: ForegroundIo, held?: HeldPorts): Promise<Started> {
  const id = cfg.id;
  // the published host ports are bound first (refused, before anything is made, when they are taken); the
  // supervisor holds the sockets for as long as the container runs
  held ??= await reservePorts(cfg.ports);
  try {
    await prepare(cfg, held.fds.length);
  } catch (e) {
    releaseHeldPorts(held);
    throw e;
  }

  const logFd = openSync(files.log(id), 'a', 0o640);
  const child = spawn(initBinary(), ['run', files.initConf(id)], {
    detached: true, // own session: the CLI's terminal signals and death do not reach it; the CLI forwards them
    stdio: [...(io ? (['inherit', 'pipe', 'pipe'] as const) : (['ignore', logFd, logFd] as const)), ...held.fds],
    env: hookEnv(),
  });
  releaseHeldPorts(held); // the supervisor has its copies
  const supervisorPid = child.pid!;
  updateState(id, { supervisorPid, supervisorStart: procStartTime(supervisorPid), startedAt: new Date().toISOString() });
  const setupErr = io ? teeOutput(child, logFd, io) : () => '';
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
    if (done || readExit(id)) throw await notStarted(cfg, exited, setupErr);
    await sleep(5);
  }
}
