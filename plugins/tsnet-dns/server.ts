// The resolver process, in two parts, both run from the tsnet-dns executable and both in the network
// namespace that started them (the host's: the bridges and their gateway addresses live there).
//
// supervisor (`tsnet-dns serve DIR`): takes DIR/supervisor.lock with flock and holds it for its whole life —
//   a second supervisor, or "is one running?", is answered by the lock, which dies with its holder, so pid
//   reuse cannot fool it. It runs the worker as its child and starts it again when it dies (killed, crashed),
//   at once the first time and with a growing pause (up to 2 s) if it keeps dying young; it leaves when the
//   worker says the records are empty, or on SIGTERM/SIGINT after stopping the worker.
// worker (`tsnet-dns serve-worker DIR`): reads DIR/names.json, listens on UDP and TCP port 53 of every
//   resolver address in it, answers from the records and forwards the rest (resolver.ts, upstream.ts); its
//   control socket (DIR/control.sock) takes `sync` (read the records again, listen where they say now, answer
//   with what it listens on) and `status`. It also reads names.json again when it is replaced on disk (tsnetd
//   writes an overlay network's names of other hosts there without telling it). With no records left it
//   closes everything, tells the supervisor, and exits. If its supervisor dies (SIGKILL), it closes its
//   sockets, starts a new supervisor — which starts a new worker — and exits, so the service comes back
//   whichever of the two was killed.
import type { ChildProcess } from 'node:child_process';
import type { Socket as UdpSocket } from 'node:dgram';
import { closeSync, mkdirSync, openSync, rmSync, statSync, truncateSync, writeSync, ftruncateSync, watch, type FSWatcher } from 'node:fs';
import { createServer, isIPv6, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { childProcess, dgram } from '../../common/builtins.js';
import { LOCK_EX, LOCK_NB, native } from '../../native/addon.js';
import { controlPath, SERVER_LOG, SUPERVISOR_LOCK, type ServerStatus } from './control.js';
import { entryCount, readNames } from '../shared/dns-names.js';
import { handleQuery, NameIndex, servfail } from './resolver.js';
import { forward, HostResolvConf, nextTcpMessage, tcpFrame } from './upstream.js';

const log = (msg: string) => process.stderr.write(`${new Date().toISOString()} tsnet-dns[${process.pid}] ${msg}\n`);

/** At most this many forwarded queries in flight (each holds a socket); more are answered SERVFAIL. */
const MAX_FORWARDS = 512;
/** A TCP client idle this long is closed. */
const TCP_IDLE_MS = 10_000;
const MAX_TCP_CLIENTS = 256;
/** How often listening on an address that failed (not there yet, in use) is tried again. */
const RETRY_BIND_MS = 1000;

interface Listener {
  network: string;
  udp?: UdpSocket;
  tcp?: Server;
  /** UDP could not be bound: the address is not served. */
  error?: string;
  /** TCP could not listen (a wildcard listener on port 53 of another server): served over UDP only. */
  tcpError?: string;
}

class Worker {
  private index = new NameIndex({ generation: 0, networks: {} });
  private readonly listeners = new Map<string, Listener>();
  private control?: Server;
  private forwards = 0;
  private readonly tcpClients = new Set<Socket>();
  private retryTimer?: NodeJS.Timeout;
  private reloadTimer?: NodeJS.Timeout;
  private watcher?: FSWatcher;
  private stopping = false;
  /** The last bind error logged per address (a retry every second logs only a new one). */
  private readonly logged = new Map<string, string>();
  private readonly upstreams = new HostResolvConf('/etc/resolv.conf', () => new Set(this.listeners.keys()));

  constructor(readonly dir: string) {}

  async start(): Promise<void> {
    await this.reload();
    if (this.stopping) return;
    const path = controlPath(this.dir);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    rmSync(path, { force: true }); // left by a worker that was killed
    this.control = createServer((c) => this.controlClient(c));
    await new Promise<void>((res, rej) => {
      this.control!.once('error', rej);
      this.control!.listen(path, () => res());
    });
    this.control.on('error', (e) => log(`control socket: ${e.message}`));
    // tsnetd writes an overlay network's remote names without telling us: a new names.json is read when it lands
    this.watcher = watch(this.dir, (_ev, file) => {
      if (file !== 'names.json' || this.stopping || this.reloadTimer) return;
      this.reloadTimer = setTimeout(() => {
        this.reloadTimer = undefined;
        if (!this.stopping) void this.reload(true);
      }, 20);
    });
    this.watcher.on('error', (e) => log(`watching ${this.dir}: ${e.message}`));
    log(`serving ${this.listeners.size} address(es), control ${path}`);
  }

  status(): ServerStatus {
    const listening: ServerStatus['listening'] = [];
    const failed: ServerStatus['failed'] = [];
    for (const [address, l] of this.listeners) {
      if (l.error) failed.push({ address, network: l.network, error: l.error });
      else listening.push({ address, network: l.network });
    }
    return {
      ok: true,
      pid: process.pid,
      supervisorPid: process.ppid,
      generation: this.index.names.generation,
      listening,
      failed,
      ...(this.stopping ? { stopping: true } : {}),
    };
  }

  /**
   * Reads the records again and listens where they say; with none left, leaves (`watched`: a change seen on disk
   * — the last record's DEL stops us through the control socket, so none left is not acted on here).
   */
  async reload(watched = false): Promise<void> {
    let names;
    try {
      names = readNames(this.dir);
    } catch (e) {
      log(`cannot read the records: ${(e as Error).message}; keeping the previous ones`);
      return;
    }
    if (watched && entryCount(names) === 0) return;
    this.index = new NameIndex(names);
    if (entryCount(names) === 0) {
      this.stopping = true;
      return;
    }
    const want = new Map(this.index.listenAddresses().map((a) => [a.address, a.network]));
    for (const [address, l] of [...this.listeners]) {
      if (!want.has(address)) {
        this.closeListener(l);
        this.listeners.delete(address);
      } else l.network = want.get(address)!;
    }
    await Promise.all(
      [...want].map(async ([address, network]) => {
        const l = this.listeners.get(address);
        if (l && !l.error) return;
        if (l) this.closeListener(l);
        this.listeners.set(address, await this.listen(address, network));
      }),
    );
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.retryTimer || ![...this.listeners.values()].some((l) => l.error)) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.stopping) void this.reload();
    }, RETRY_BIND_MS);
    this.retryTimer.unref();
  }

  private closeListener(l: Listener): void {
    try {
      l.udp?.close();
    } catch {
      /* not bound */
    }
    l.tcp?.close();
  }

  /**
   * UDP and TCP port 53 on one address. UDP with SO_REUSEADDR, so that another DNS server bound to the wildcard
   * address with it too (dnsmasq, libvirt's) does not keep us off the gateway — the kernel hands a datagram to
   * the socket bound to its exact address. TCP, which carries only what did not fit a datagram, is kept where
   * it can listen: a wildcard listener of another server leaves the address served over UDP alone (logged).
   */
  private async listen(address: string, network: string): Promise<Listener> {
    const l: Listener = { network };
    try {
      l.udp = await new Promise<UdpSocket>((res, rej) => {
        const s = dgram().createSocket({ type: isIPv6(address) ? 'udp6' : 'udp4', reuseAddr: true });
        s.once('error', rej);
        s.bind(53, address, () => {
          s.off('error', rej);
          s.on('error', (e) => log(`udp ${address}: ${e.message}`));
          res(s);
        });
      });
      l.udp.on('message', (msg, rinfo) => this.onUdp(l.udp!, address, msg, rinfo.address, rinfo.port));
      this.logged.delete(address);
    } catch (e) {
      this.closeListener(l);
      l.udp = undefined;
      l.error = `${(e as NodeJS.ErrnoException).code ?? ''} ${(e as Error).message}`.trim();
      if (this.logged.get(address) !== l.error)
        log(`cannot listen on ${address}:53 for network ${network}: ${l.error}; trying again every second`);
      this.logged.set(address, l.error);
      return l;
    }
    try {
      l.tcp = await new Promise<Server>((res, rej) => {
        const s = createServer((c) => this.onTcp(c, address));
        s.maxConnections = MAX_TCP_CLIENTS;
        s.once('error', rej);
        s.listen({ port: 53, host: address, exclusive: true }, () => {
          s.off('error', rej);
          s.on('error', (e) => log(`tcp ${address}: ${e.message}`));
          res(s);
        });
      });
    } catch (e) {
      l.tcp = undefined;
      l.tcpError = `${(e as NodeJS.ErrnoException).code ?? ''} ${(e as Error).message}`.trim();
      log(`TCP ${address}:53 for network ${network}: ${l.tcpError}; answering over UDP only`);
    }
    return l;
  }

  private async answer(msg: Buffer, address: string, client: string, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    const network = this.index.networkOf(address);
    if (!network) return servfail(msg);
    const h = handleQuery(this.index, msg, network, client, transport);
    if ('reply' in h) return h.reply;
    if ('drop' in h) return undefined;
    const up = this.upstreams.current();
    if (!up.servers.length || this.forwards >= MAX_FORWARDS) return servfail(msg);
    this.forwards++;
    try {
      return (await forward(msg, up, transport)) ?? servfail(msg);
    } finally {
      this.forwards--;
    }
  }

  private onUdp(sock: UdpSocket, address: string, msg: Buffer, client: string, port: number): void {
    void this.answer(msg, address, client, 'udp').then((reply) => {
      if (!reply) return;
      try {
        sock.send(reply, port, client, (err) => err && log(`reply to ${client}: ${err.message}`));
      } catch (e) {
        log(`reply to ${client}: ${(e as Error).message}`); // the socket was closed meanwhile (a reload)
      }
    });
  }

  private onTcp(c: Socket, address: string): void {
    this.tcpClients.add(c);
    c.setTimeout(TCP_IDLE_MS, () => c.destroy());
    c.on('close', () => this.tcpClients.delete(c));
    c.on('error', () => c.destroy());
    let buf: Buffer = Buffer.alloc(0);
    let chain = Promise.resolve();
    c.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (let m = nextTcpMessage(buf); m; m = nextTcpMessage(buf)) {
        buf = m.rest;
        const message = Buffer.from(m.message);
        // Answers go back in the order the questions came.
        chain = chain.then(async () => {
          const reply = await this.answer(message, address, c.remoteAddress ?? '', 'tcp');
          if (reply && !c.destroyed) c.write(tcpFrame(reply));
        });
      }
    });
  }

  private controlClient(c: Socket): void {
    let buf = '';
    c.setEncoding('utf8');
    c.on('error', () => c.destroy());
    c.on('data', (d: string) => {
      buf += d;
      if (!buf.includes('\n')) return;
      let op: string | undefined;
      try {
        op = (JSON.parse(buf.slice(0, buf.indexOf('\n'))) as { op?: string }).op;
      } catch {
        op = undefined;
      }
      const done = () => {
        c.end(`${JSON.stringify(this.status())}\n`);
        if (this.stopping) this.leave('no records left');
      };
      if (op === 'sync') void this.reload().then(done);
      else if (op === 'status') done();
      else c.end(`${JSON.stringify({ ok: false, error: `unknown op ${JSON.stringify(op)}` })}\n`);
    });
  }

  /** Closes every socket. */
  close(): void {
    for (const l of this.listeners.values()) this.closeListener(l);
    this.listeners.clear();
    for (const c of this.tcpClients) c.destroy();
    this.control?.close();
    this.watcher?.close();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
  }

  /** Records empty: close, tell the supervisor not to start another worker, exit. */
  leave(why: string): void {
    log(`stopping: ${why}`);
    this.close();
    if (process.send && process.connected) process.send({ type: 'done' }, () => process.exit(0));
    else process.exit(0);
  }
}

export async function runWorker(dir: string, self: string): Promise<void> {
  const w = new Worker(dir);
  process.on('SIGTERM', () => {
    w.close();
    process.exit(0);
  });
  // The supervisor is gone (killed): hand over to a new one rather than run unsupervised.
  process.on('disconnect', () => {
    log('supervisor gone: starting a new one');
    w.close();
    startSupervisor(dir, self);
    process.exit(0);
  });
  await w.start();
  if ((w.status().stopping ?? false) === true) w.leave('no records');
}

/** A new supervisor, detached, output appended to DIR/server.log. */
function startSupervisor(dir: string, self: string): void {
  const out = openSync(join(dir, SERVER_LOG), 'a', 0o600);
  try {
    childProcess()
      .spawn(process.execPath, [self, 'serve', dir], { detached: true, stdio: ['ignore', out, out] })
      .unref();
  } finally {
    closeSync(out);
  }
}

/** Holds the supervisor lock (waiting briefly: a plugin's liveness test holds it for an instant). */
async function takeSupervisorLock(dir: string): Promise<number | undefined> {
  const fd = openSync(join(dir, SUPERVISOR_LOCK), 'a+', 0o600);
  const addon = native();
  for (let i = 0; i < 20; i++) {
    if (addon.flock(fd, LOCK_EX | LOCK_NB)) {
      ftruncateSync(fd, 0);
      writeSync(fd, `${process.pid}\n`);
      return fd;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  closeSync(fd);
  return undefined;
}

export async function runSupervisor(dir: string, self: string): Promise<void> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lockFd = await takeSupervisorLock(dir);
  if (lockFd === undefined) {
    log('another supervisor holds the lock; leaving');
    return;
  }
  try {
    if (statSync(join(dir, SERVER_LOG)).size > 1 << 20) truncateSync(join(dir, SERVER_LOG), 0);
  } catch {
    /* no log yet */
  }
  let stopping = false;
  let worker: ChildProcess | undefined;
  let pause = 0;
  const run = () => {
    const startedAt = Date.now();
    const child = childProcess().fork(self, ['serve-worker', dir], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
    worker = child;
    child.on('message', (m: { type?: string }) => {
      if (m?.type === 'done') stopping = true;
    });
    child.on('exit', (code, signal) => {
      worker = undefined;
      if (stopping) {
        log('worker done; supervisor leaving');
        process.exit(0);
      }
      pause = Date.now() - startedAt > 5000 ? 0 : Math.min(Math.max(pause * 2, 100), 2000);
      log(`worker ${child.pid} ended (${signal ?? `exit ${code}`}); starting another in ${pause} ms`);
      setTimeout(run, pause);
    });
  };
  const stop = () => {
    stopping = true;
    if (worker) worker.kill('SIGTERM');
    else process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', () => undefined);
  log(`supervisor for ${dir}`);
  run();
}
