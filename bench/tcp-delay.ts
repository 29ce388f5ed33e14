// A TCP relay that puts a round-trip time between its clients and a server without sch_netem (which some
// kernels, this VM's among them, lack): every chunk is held for RTT/2 in each direction before it is passed on,
// in order — what toxiproxy's "latency" toxic does. The bench (overlay.ts) runs it in a namespace of its own on
// the underlay switch, in front of etcd, so a host that uses its address as the store sees etcd RTT ms away.
//
// What it models, and what not: a request and its answer cost one RTT; a new connection costs one more (the
// client's first bytes are held until RTT after the accept — they could not have left before the SYN-ACK came
// back — and then RTT/2 on the way), so a client that opens a connection and asks pays 2 RTT as over a real
// link. Not modelled: loss, bandwidth, the window (etcd's messages are small), the delay of the close.
//   node dist/bench/tcp-delay.js LISTEN_ADDR:PORT UPSTREAM_ADDR:PORT RTT_MS [… more triples]
// prints "ready" on stdout once every listener listens; runs until killed.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';

export interface DelayRelayOptions {
  listen: { host: string; port: number };
  upstream: { host: string; port: number };
  /** Round-trip time added, ms (RTT/2 each way). */
  rttMs: number;
}

/** Passes what `from` sends on to `to`, each chunk (and the end) `holdMs` after it came, not before `notBefore()`. */
function delayed(from: Socket, to: Socket, holdMs: number, notBefore: () => number): void {
  const queue: { at: number; chunk: Buffer | null }[] = [];
  let timer: NodeJS.Timeout | undefined;
  let last = 0;
  const flush = (): void => {
    timer = undefined;
    const now = performance.now();
    while (queue.length && queue[0]!.at <= now) {
      const { chunk } = queue.shift()!;
      if (chunk === null) to.end();
      else to.write(chunk);
    }
    if (queue.length) timer = setTimeout(flush, queue[0]!.at - now);
  };
  const push = (chunk: Buffer | null): void => {
    // never earlier than the chunk before: the order of the stream is kept
    const at = Math.max(performance.now(), notBefore()) + holdMs;
    last = Math.max(last, at);
    queue.push({ at: last, chunk });
    if (!timer) timer = setTimeout(flush, last - performance.now());
  };
  let ended = false;
  from.on('data', (c: Buffer) => push(c));
  from.on('end', () => {
    ended = true;
    push(null);
  });
  // a reset (no end): the other side goes at once; after an end, what is queued still goes, then the end
  from.on('close', () => {
    if (ended) return;
    if (timer) clearTimeout(timer);
    to.destroy();
  });
  from.on('error', () => undefined);
}

/** Starts one relay; resolves once it listens. */
export async function startDelayRelay(o: DelayRelayOptions): Promise<Server> {
  const half = o.rttMs / 2;
  const server = createServer({ noDelay: true }, (client) => {
    const accepted = performance.now();
    const up = createConnection({ host: o.upstream.host, port: o.upstream.port, noDelay: true });
    client.setNoDelay(true);
    delayed(client, up, half, () => accepted + o.rttMs); // the handshake's round trip first
    delayed(up, client, half, () => 0);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.listen.port, o.listen.host, () => resolve());
  });
  return server;
}

function hostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  const port = Number(s.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port)) throw new Error(`"${s}": give ADDR:PORT`);
  return { host: s.slice(0, i), port };
}

async function main(argv: string[]): Promise<void> {
  if (argv.length === 0 || argv.length % 3 !== 0) throw new Error('usage: tcp-delay.js LISTEN_ADDR:PORT UPSTREAM_ADDR:PORT RTT_MS [...]');
  for (let i = 0; i < argv.length; i += 3) {
    const rttMs = Number(argv[i + 2]);
    if (!(rttMs >= 0)) throw new Error(`"${argv[i + 2]}": give the round-trip time in ms`);
    await startDelayRelay({ listen: hostPort(argv[i]!), upstream: hostPort(argv[i + 1]!), rttMs });
  }
  process.stdout.write('ready\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e: Error) => {
    process.stderr.write(`tcp-delay: ${e.message}\n`);
    process.exit(1);
  });
}
