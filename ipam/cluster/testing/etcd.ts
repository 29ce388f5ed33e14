// A real etcd for tests: its own data dir and ports, started by the test and stopped (and its data dir
// removed) on every path. `netns` runs it inside a namespace (the netns tests' fourth "host").
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const hasEtcd = spawnSync('etcd', ['--version']).status === 0;
/** Pass as `{ skip }` to tests that need the etcd binary. */
export const needsEtcd = hasEtcd ? false : 'needs etcd (apt-get install etcd-server)';

export interface EtcdServer {
  /** etcd://ADDR:PORT */
  url: string;
  address: string;
  port: number;
  dataDir: string;
  /** The namespace it runs in, if any. */
  netns?: string;
  proc: ChildProcess;
  /** Stops it (SIGTERM, then SIGKILL) and waits for it to exit; the data dir stays (start again with `restart`). */
  stop(): Promise<void>;
  /** Starts it again on the same address, port and data dir. */
  restart(): Promise<void>;
  /** stop() and remove the data dir. */
  dispose(): Promise<void>;
}

async function waitPort(address: string, port: number, netns: string | undefined, proc: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (proc.exitCode !== null) throw new Error(`etcd exited (${proc.exitCode}): ${log()}`);
    const ok = netns
      ? spawnSync('ip', ['netns', 'exec', netns, 'bash', '-c', `exec 3<>/dev/tcp/${address}/${port}`]).status === 0
      : await new Promise<boolean>((resolve) => {
          const s = createConnection({ host: address, port }, () => {
            s.destroy();
            resolve(true);
          });
          s.on('error', () => resolve(false));
        });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`etcd did not listen on ${address}:${port}: ${log()}`);
}

export interface EtcdTls {
  /** PEM files: the server's certificate and key, and the CA its clients' certificates must chain to. */
  cert: string;
  key: string;
  ca: string;
}

/**
 * Starts etcd on address:port (default 127.0.0.1 and a port from `port`), inside `netns` when given; with `tls`,
 * clients speak TLS and must show a certificate from `tls.ca` (the URL is then etcds://).
 */
export async function startEtcd(opts: { address?: string; port?: number; netns?: string; tls?: EtcdTls } = {}): Promise<EtcdServer> {
  const address = opts.address ?? '127.0.0.1';
  const port = opts.port ?? 20000 + Math.floor(Math.random() * 20000);
  const dataDir = mkdtempSync(join(tmpdir(), 'tsnet-etcd-'));
  let out = '';
  const scheme = opts.tls ? 'https' : 'http';
  const tlsArgs = opts.tls
    ? ['--cert-file', opts.tls.cert, '--key-file', opts.tls.key, '--trusted-ca-file', opts.tls.ca, '--client-cert-auth']
    : [];
  const launch = (): ChildProcess => {
    const args = [
      ...tlsArgs,
      '--name',
      'tsnet-test',
      '--data-dir',
      join(dataDir, 'data'),
      '--listen-client-urls',
      `${scheme}://${address}:${port}`,
      '--advertise-client-urls',
      `${scheme}://${address}:${port}`,
      '--listen-peer-urls',
      `http://${address}:${port + 1}`,
      '--initial-advertise-peer-urls',
      `http://${address}:${port + 1}`,
      '--initial-cluster',
      `tsnet-test=http://${address}:${port + 1}`,
    ];
    const p = opts.netns
      ? spawn('ip', ['netns', 'exec', opts.netns, 'etcd', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('etcd', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout?.on('data', (d) => (out = (out + d).slice(-4000)));
    p.stderr?.on('data', (d) => (out = (out + d).slice(-4000)));
    return p;
  };
  const server: EtcdServer = {
    url: `${opts.tls ? 'etcds' : 'etcd'}://${address}:${port}`,
    address,
    port,
    dataDir,
    ...(opts.netns ? { netns: opts.netns } : {}),
    proc: launch(),
    async stop() {
      const p = server.proc;
      if (p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
      p.kill('SIGTERM');
      const t = setTimeout(() => p.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
    async restart() {
      await server.stop();
      server.proc = launch();
      await waitPort(address, port, opts.netns, server.proc, () => out);
    },
    async dispose() {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  try {
    await waitPort(address, port, opts.netns, server.proc, () => out);
  } catch (e) {
    await server.dispose();
    throw e;
  }
  return server;
}
