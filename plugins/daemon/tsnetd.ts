// tsnetd: the resident daemon behind the CNI fast path, as a foreground (systemd-style) process.
// Mounted by the CLI as `tsnet daemon`; also runnable directly: `node dist/plugins/daemon/tsnetd-main.js`.
// Stops on SIGTERM/SIGINT: the socket goes away at once (new calls fall back to the standalone plugins),
// requests in flight get up to the request timeout to finish; a second signal exits immediately.
// All state lives in the IPAM store on disk, so a restart (or a crash) loses nothing.
import { socketPath } from './endpoint.js';
import { DaemonError, DEFAULT_TIMEOUT_MS, limitsFromEnv, startServer } from './server.js';

export interface DaemonOptions {
  /** Socket path; default $TSNET_SOCKET, else /run/tsnet/tsnetd.sock. */
  socket?: string;
  /** Per-request timeout in ms; default $TSNETD_TIMEOUT_MS, else 60 s. */
  timeoutMs?: number;
  /** Log every request failure and lifecycle event to stderr (always on here; quiet only silences startup). */
  quiet?: boolean;
  /** A cluster store to watch (overlay networks): `etcd://HOST:2379[,…]`; see store-watch.ts. */
  store?: string;
  /** This host's name in the store (default: the hostname). */
  storeHost?: string;
  storeTls?: { ca?: string; cert?: string; key?: string };
}

function envTimeout(): number | undefined {
  const n = Number(process.env.TSNETD_TIMEOUT_MS);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/**
 * libuv's worker pool (4 threads unless set) serves the daemon's waits that may take long — a DEL waiting for
 * the kernel's notifications, a directory looked up ahead in a container's namespace, IPAM's fdatasync —
 * alongside the rest; with 16 requests in flight, 4 would queue them behind each other. Takes effect only
 * when set before the pool's first use, so the entry points call this first.
 */
export function sizeWorkerPool(): void {
  process.env.UV_THREADPOOL_SIZE ??= '16';
}

/** Runs the daemon until a signal stops it. Resolves the process exit code (0 after a clean shutdown). */
export async function runDaemon(opts: DaemonOptions = {}): Promise<number> {
  sizeWorkerPool();
  const log = (line: string) => process.stderr.write(`tsnetd: ${line}\n`);
  if (process.getuid?.() !== 0) log('warning: not running as root; plugins will fail to change the network');
  let server;
  try {
    server = await startServer({
      socket: opts.socket ?? socketPath(),
      timeoutMs: opts.timeoutMs ?? envTimeout() ?? DEFAULT_TIMEOUT_MS,
      limits: limitsFromEnv(),
      log: opts.quiet ? (l) => (l.startsWith('listening') ? undefined : log(l)) : log,
    });
  } catch (e) {
    log(e instanceof DaemonError ? e.message : `cannot start: ${(e as Error).message}`);
    return 1;
  }
  const s = server;
  let watch: { close(): Promise<void> } | undefined;
  if (opts.store) {
    const { startStoreWatch } = await import('./store-watch.js');
    try {
      watch = await startStoreWatch({
        url: opts.store,
        ...(opts.storeHost ? { host: opts.storeHost } : {}),
        ...(opts.storeTls ? { tls: opts.storeTls } : {}),
        log,
      });
    } catch (e) {
      log(`cannot watch the store: ${(e as Error).message}`);
      await s.close();
      return 1;
    }
  }
  return new Promise<number>((res) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) {
        log(`${sig} again: exiting now with ${s.inflight()} request(s) unanswered`);
        process.exit(1);
      }
      stopping = true;
      log(`${sig}: stopping (${s.inflight()} request(s) in flight)`);
      void Promise.all([s.close(), watch?.close()]).then(() => {
        const st = s.stats();
        log(`stopped after ${st.served} answered, ${st.declined} declined, ${st.malformed} malformed, ${st.failed} failed request(s)`);
        process.off('SIGTERM', onTerm);
        process.off('SIGINT', onInt);
        res(0);
      });
    };
    const onTerm = () => stop('SIGTERM');
    const onInt = () => stop('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
}
