// `tsnet run`, second half: cgroup; the init helper's config written and the helper spawned in its own session as
// soon as the container's netns exists, so its pid 1 joins the namespaces and cgroups while the network is added;
// /etc files; "go" to the helper; and the wait until it has exec'd the command — told by the helper's supervisor
// on a socket (`notify=`), which also tells a foreground run when the container ended, so the CLI cleans up
// itself instead of the exit hook (no second Node start); a detached container, or a CLI that died, leaves it
// to the hook.
import { Socket } from 'node:net';
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { TsnetError } from '../../common/errors.js';
import { trace } from '../../common/trace.js';
import { native } from '../../native/addon.js';
import { spawnInSession } from '../../native/spawn.js';
import { imageById, lowerDirs } from '../images/store.js';
import { createCgroup } from '../runtime/cgroups.js';
import { initBinary } from '../runtime/init-binary.js';
import { encodeInitConfig } from '../runtime/init-config.js';
import { procStartTime } from '../runtime/proc.js';
import { confinementInitConfig, deviceAllowList, rootfsInitConfig } from '../runtime/security.js';
import { paths } from '../paths.js';
import { readTextIfExists } from '../util/files.js';
import { releaseHeldPorts, reservePorts, type HeldPorts } from '../network/ports.js';
import { cleanupAfterExit, cleanupBeforeExit } from './cleanup.js';
import { driver, networkTarget } from './driver-instance.js';
import { createEtcFiles, etcBinds, writeEtcFiles } from './etc-files.js';
import { parseNetMode } from '../network/modes.js';
import { exitHookArgv, hookEnv } from './exit-hook.js';
import type { ContainerConfig } from './model.js';
import { HELPER_PREFIX, teeOutput, type ForegroundIo, type Tee } from './output-tee.js';
import { reclaim } from './reclaim.js';
import { removeContainer, removeFilesystemAhead } from './rm.js';
import { files, getContainer, loadContainer, readExit, updateState } from './store.js';

export interface Started {
  config: ContainerConfig;
  pid: number;
  supervisorPid: number;
  /**
   * Foreground only: resolves with the container's exit code when it ended, once cleanup is done (network
   * detach, cgroup, --rm) — by this process, or, when that failed or the supervisor went without telling, by
   * the exit hook or a reclaim — and the output is drained.
   */
  exited: Promise<number>;
}

/** What the supervisor says on the notify socket: `pid N` once the command is exec'd, `exit N` when it ended. */
interface SupervisorNews {
  pid: Promise<number | undefined>;
  exit: Promise<number | undefined>;
}

/** Reads the supervisor's lines; both promises resolve with undefined if the socket ends first. */
function supervisorNews(sock: Socket): SupervisorNews {
  let buf = '';
  let onPid!: (v: number | undefined) => void;
  let onExit!: (v: number | undefined) => void;
  const pid = new Promise<number | undefined>((r) => (onPid = r));
  const exit = new Promise<number | undefined>((r) => (onExit = r));
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const [what, n] = buf.slice(0, i).split(' ');
      buf = buf.slice(i + 1);
      if (what === 'pid') onPid(Number(n));
      else if (what === 'exit') {
        onPid(undefined);
        onExit(Number(n));
      }
    }
  });
  const ended = () => (onPid(undefined), onExit(undefined));
  sock.on('end', ended);
  sock.on('close', ended);
  sock.on('error', ended);
  return { pid, exit };
}

/**
 * A foreground container's end: the CLI does what the exit hook would (cleanup, --rm) while the supervisor
 * waits, then answers it — a byte: done, it exits with the container's code; closing the socket instead
 * (cleanup failed) makes it exec the hook, which tries again. A supervisor that went without telling (killed)
 * is reclaimed here. Resolves with the container's exit code once the container's output is passed on: after an
 * answer, at once — its processes are gone, so all they wrote is in the pipes (the supervisor, which exits on its
 * own, writes nothing more); otherwise once the supervisor (or its hook) ended.
 */
async function foregroundEnd(id: string, helper: Helper): Promise<number> {
  const { sock, news } = helper;
  const code = await news.exit;
  if (code === undefined) {
    const status = await helper.closed;
    const c = loadContainer(id);
    if (c) await reclaim(c);
    return readExit(id)?.code ?? status;
  }
  trace('exited');
  let cleaned = false;
  const autoRemove = !!loadContainer(id)?.config.autoRemove;
  // --rm: the container's filesystem and log go meanwhile (settled before anything else touches the directory)
  if (autoRemove) helper.closeLog();
  const filesystem = autoRemove ? removeFilesystemAhead(id) : undefined;
  try {
    const { handedOff } = await cleanupBeforeExit(id);
    trace('cleaned-up');
    await filesystem;
    if (autoRemove) await removeContainer(id, { force: true, fromExitHook: true });
    await handedOff;
    trace('removed');
    cleaned = true;
  } catch (e) {
    await filesystem;
    if (process.env.TSNET_DEBUG) process.stderr.write(`tsnet: cleanup left to the exit hook: ${(e as Error).message}\n`);
  }
  if (cleaned) {
    // once written the supervisor will read it (or, gone meanwhile, never will: then its hook or a reclaim cleans)
    await new Promise<void>(
      (resolve) => (sock.once('error', () => resolve()), sock.once('close', () => resolve()), sock.end('d', resolve)),
    );
    helper.drainNow();
    return code;
  }
  sock.destroy();
  await helper.closed;
  return code;
}

/** The init helper, spawned: its supervisor's pid, its news on the notify socket, its end. */
interface Helper {
  /** Resolves once posix_spawn returned (on a worker thread: the CLI goes on meanwhile); then pid and record are set. */
  spawned: Promise<void>;
  pid: number;
  /** Its pid and start time, and the container's start, for state.json. */
  record: { supervisorPid: number; supervisorStart?: string; startedAt: string };
  sock: Socket;
  news: SupervisorNews;
  /** The supervisor's exit status, once it exited and its output is drained. */
  closed: Promise<number>;
  /** The helper's own lines (a foreground start that failed). */
  setupErr: () => string;
  /** Foreground: what the helper's output pipes still hold, passed on now (no wait for their end). */
  drainNow: () => void;
  /** The container's log written up to now and closed (--rm: before it is removed); later output is passed on only. */
  closeLog: () => void;
}

/** The end of a stream (its last data read), or of a stream that errs. */
const ended = (r: Socket): Promise<void> => new Promise((resolve) => (r.once('close', () => resolve()), r.once('error', () => resolve())));

/**
 * Spawns the init helper (init.conf written) in its own session, through the addon (posix_spawn: this process
 * is not copied), with the held ports' sockets at 3.. and the notify socket after them; a foreground
 * container's output comes through pipes, teed into its log and onto `io`, a detached one's goes to the log.
 */
function spawnHelper(cfg: ContainerConfig, held: HeldPorts, io: ForegroundIo | undefined): Helper {
  const id = cfg.id;
  const n = native();
  const logFd = openSync(files.log(id), 'a', 0o640);
  const opened: number[] = [logFd];
  const closeAll = (fds: (number | undefined)[]) => {
    for (const fd of fds)
      if (fd !== undefined)
        try {
          closeSync(fd);
        } catch {
          /* closed */
        }
  };
  let spawning: ReturnType<typeof spawnInSession>;
  let notify: [number, number], out: [number, number] | undefined, err: [number, number] | undefined;
  try {
    notify = n.socketPair();
    opened.push(...notify);
    if (io) {
      out = n.pipe();
      opened.push(...out);
      err = n.pipe();
      opened.push(...err);
    }
    spawning = spawnInSession(initBinary(), ['run', files.initConf(id)], hookEnv(), [
      io ? 0 : 'null',
      out ? out[1] : logFd,
      err ? err[1] : logFd,
      ...held.fds,
      notify[1], // fd 3 + held ports: notify= in init.conf
    ]);
  } catch (e) {
    closeAll(opened);
    throw e;
  }
  closeAll([notify[1], out?.[1], err?.[1]]); // the spawn took its copies
  let logOpen = true;
  const closeLog = () => {
    if (logOpen) closeAll([logFd]);
    logOpen = false;
  };
  releaseHeldPorts(held);
  const sock = new Socket({ fd: notify[0], readable: true, writable: true });
  const news = supervisorNews(sock);
  let tee: Tee | undefined;
  const drained: Promise<void>[] = [];
  if (out && err) {
    const stdout = new Socket({ fd: out[0], readable: true, writable: false });
    const stderr = new Socket({ fd: err[0], readable: true, writable: false });
    tee = teeOutput(stdout, stderr, { stdout: out[0], stderr: err[0] }, { fd: logFd, close: closeLog }, io!);
    drained.push(ended(stdout), ended(stderr));
  }
  let closed: Promise<number> | undefined;
  const helper: Helper = {
    pid: 0,
    record: { supervisorPid: 0, startedAt: '' },
    // recorded with the network, after the ADD (one state write, not three, before the command starts)
    spawned: spawning.then((child) => {
      helper.pid = child.pid;
      helper.record = { supervisorPid: child.pid, supervisorStart: procStartTime(child.pid), startedAt: new Date().toISOString() };
    }),
    sock,
    news,
    // asked for only when the CLI waits for the helper to end (a detached container's is let go)
    get closed() {
      return (closed ??= Promise.all([spawning.then((child) => child.exited()), ...drained]).then(([code]) => {
        closeLog();
        return code;
      }));
    },
    setupErr: () => tee?.setupErr() ?? '',
    drainNow: () => tee?.drainNow(),
    closeLog: () => (tee ? tee.closeLog() : closeLog()),
  };
  helper.spawned.catch(() => undefined); // awaited after the ADD; a failure meanwhile must not end the CLI first
  return helper;
}

/**
 * Cgroup, network, rootfs dirs, /etc files, and the init helper: spawned as soon as the container's netns
 * exists, before the network is added — its pid 1 joins the namespaces and cgroups meanwhile (a v1 cgroup join
 * waits out an RCU grace period) — and told "go" once the network and the /etc files are there. On failure the
 * helper is told "no" and waited for, and what was made is undone (and --rm).
 */
async function prepare(cfg: ContainerConfig, held: HeldPorts, io: ForegroundIo | undefined): Promise<Helper> {
  const id = cfg.id;
  const img = imageById(cfg.imageId);
  let helper: Helper | undefined;
  try {
    const cgroup = createCgroup(id, cfg.limits, cfg.security ? deviceAllowList(cfg.security) : undefined);
    // recorded with the network below (a cleanup before that finds the dirs by id: cgroupFor)
    trace('cgroup');
    const mode = parseNetMode(cfg.net);
    // container:X shares X's /etc/hosts, /etc/resolv.conf and /etc/hostname (its own are not written)
    const etcDir = files.etc(mode.kind === 'container' ? getContainer(mode.ref).config.id : id);
    const network = await driver.attach(networkTarget(cfg), {
      netnsReady(netnsPath, loUp) {
        trace('netns');
        for (const d of [files.upper(id), files.work(id), files.rootfs(id)]) mkdirSync(d, { recursive: true });
        if (mode.kind !== 'container') createEtcFiles(etcDir);
        rmSync(files.exit(id), { force: true });
        writeFileSync(
          files.initConf(id),
          encodeInitConfig({
            rootfs: files.rootfs(id),
            lower: lowerDirs(img),
            upper: files.upper(id),
            work: files.work(id),
            netns: netnsPath === 'host' ? undefined : netnsPath,
            lo_up: loUp ? 1 : undefined,
            holdfds: held.fds.length || undefined,
            notify: 3 + held.fds.length, // right after the held ports (spawnHelper)
            go: 1,
            hostname: cfg.hostname,
            cgroup: cgroup.dirs,
            bind: etcBinds(etcDir), // bound now, written in place below, before the go
            env: cfg.env,
            cwd: cfg.workdir,
            exitfile: files.exit(id),
            arg: cfg.cmd,
            onexit: exitHookArgv(id),
            ...rootfsInitConfig(cfg.security),
            ...confinementInitConfig(cfg.security, paths.seccompCache()),
          }),
        );
        trace('prepared');
        helper = spawnHelper(cfg, held, io);
        trace('spawned');
      },
    });
    await helper!.spawned;
    updateState(id, { cgroup, network, ...helper!.record });
    trace('network-added');
    if (mode.kind !== 'container') writeEtcFiles(etcDir, cfg.hostname, network, { dns: cfg.dns, extraHosts: cfg.extraHosts });
    trace('go');
    helper!.sock.write('go\n');
    return helper!;
  } catch (e) {
    releaseHeldPorts(held);
    if (helper) {
      helper.sock.end('no\n'); // the helper gives up, without the exit hook: the cleanup is done here
      await helper.closed.catch(() => undefined); // (rejects when the spawn itself failed)
    }
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
  const helper = await prepare(cfg, held, io);
  const { sock, news, setupErr } = helper;
  const supervisorPid = helper.pid;

  const pid = await news.pid;
  if (!pid || !io) {
    // detached, or not started: the exit hook cleans up when the container ends (or now)
    sock.destroy();
    // a detached container is let go (never waited for); one that did not start is (its error is read after it ends)
  }
  if (!pid) {
    // the exit file, or (after --rm removed it) the exit hook's status, which is the container's code
    const exited = helper.closed.then((supervisorCode) => readExit(id)?.code ?? supervisorCode);
    throw await notStarted(cfg, exited, setupErr);
  }
  updateState(id, { status: 'running', pid, pidStart: procStartTime(pid) });
  trace('running');
  if (io) return { config: cfg, pid, exited: foregroundEnd(id, helper), supervisorPid };
  let exited: Promise<number> | undefined;
  return {
    config: cfg,
    pid,
    supervisorPid,
    // a detached container is waited for only when asked (waiting keeps this process alive)
    get exited() {
      return (exited ??= helper.closed.then((s) => readExit(id)?.code ?? s));
    },
  };
}
