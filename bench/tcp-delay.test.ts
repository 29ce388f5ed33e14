// The relay of the overlay bench: bytes arrive whole and in order, and each exchange costs at least the round
// trip it was told (a new connection one more) — lower bounds only, which a slow machine cannot break.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { startDelayRelay } from './tcp-delay.js';

async function listening(s: Server): Promise<number> {
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return (s.address() as AddressInfo).port;
}

/** Reads from `sock` until `n` bytes came. */
function read(sock: Socket, n: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let got = 0;
    const on = (c: Buffer) => {
      parts.push(c);
      got += c.length;
      if (got >= n) {
        sock.off('data', on);
        resolve(Buffer.concat(parts));
      }
    };
    sock.on('data', on);
  });
}

test('tcp-delay: a new connection costs two round trips, an exchange on it one; bytes whole and in order', async (t) => {
  const echo = createServer((s) => s.pipe(s));
  const echoPort = await listening(echo);
  const rttMs = 40;
  const relay = await startDelayRelay({ listen: { host: '127.0.0.1', port: 0 }, upstream: { host: '127.0.0.1', port: echoPort }, rttMs });
  const sock = createConnection({ host: '127.0.0.1', port: (relay.address() as AddressInfo).port, noDelay: true });
  t.after(() => {
    sock.destroy();
    relay.close();
    echo.close();
  });
  await once(sock, 'connect');
  const slack = 2; // timers and performance.now() disagree by less than a ms or so

  let t0 = performance.now();
  sock.write('a');
  assert.equal((await read(sock, 1)).toString(), 'a');
  const first = performance.now() - t0;
  assert.ok(first >= 2 * rttMs - slack, `first exchange took ${first.toFixed(1)} ms, less than the handshake and a round trip`);

  t0 = performance.now();
  sock.write('b');
  assert.equal((await read(sock, 1)).toString(), 'b');
  const second = performance.now() - t0;
  assert.ok(second >= rttMs - slack, `second exchange took ${second.toFixed(1)} ms, less than a round trip`);

  const data = Buffer.from(Array.from({ length: 200 }, (_, i) => `chunk ${i};`).join(''));
  for (let i = 0; i < data.length; i += 37) sock.write(data.subarray(i, i + 37));
  assert.deepEqual(await read(sock, data.length), data);
});

test('tcp-delay: the server closing after its answer still delivers the answer, then the end', async (t) => {
  const server = createServer((s) => s.once('data', () => s.end('bye')));
  const port = await listening(server);
  const relay = await startDelayRelay({ listen: { host: '127.0.0.1', port: 0 }, upstream: { host: '127.0.0.1', port }, rttMs: 20 });
  const sock = createConnection({ host: '127.0.0.1', port: (relay.address() as AddressInfo).port });
  t.after(() => {
    sock.destroy();
    relay.close();
    server.close();
  });
  sock.write('hi');
  const parts: Buffer[] = [];
  sock.on('data', (c: Buffer) => parts.push(c));
  await once(sock, 'end');
  assert.equal(Buffer.concat(parts).toString(), 'bye');
});
