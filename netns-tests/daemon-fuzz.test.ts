// Fuzzing tsnetd's socket side (the addon's FrameServer and server.ts) with fast-check: batches of clients
// at once, each sending random bytes, a frame of a random length, or a well-formed request with a byte
// changed, cut short or run long — then closing. Whatever they send: the daemon stays up, answers each
// with nothing or a well-formed frame, still answers a good request after every batch, and holds no
// connection or byte once they are gone. Small limits, so the batches run into them. Bounded in runs and
// time (a few seconds).
import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { it } from 'node:test';
import fc from 'fast-check';
import { decodeResponse, encodeRequest } from '../plugins/daemon/protocol.js';
import type { Registry } from '../plugins/daemon/registry.js';
import { startServer } from '../plugins/daemon/server.js';
import { CniError } from '../plugins/cni/types.js';
import { world } from './harness.js';

const registry: Registry = new Map([
  [
    'fake',
    {
      opts: { name: 'fake' },
      plugin: {
        add: async (conf) => ({ cniVersion: conf.cniVersion, ips: [{ address: '10.9.9.9/24' }] }),
        del: async () => {},
        check: async () => {
          throw new CniError(100, 'fake check failed');
        },
      },
    },
  ],
]);

const good = encodeRequest({
  type: 'fake',
  env: { CNI_COMMAND: 'VERSION', CNI_CONTAINERID: 'c1', CNI_IFNAME: 'eth0', CNI_PATH: '/nowhere' },
  stdin: Buffer.from('{"cniVersion":"1.0.0"}'),
});

/** What one client sends. */
const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));
const withLength = (n: number, body: Buffer) => {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(n >>> 0);
  return Buffer.concat([head, body]);
};
const env = fc.dictionary(
  fc.constantFrom('CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_ARGS', 'CNI_PATH', 'TSNET_ROOT', 'OTHER'),
  fc.oneof(
    fc.constantFrom('ADD', 'DEL', 'CHECK', 'VERSION', 'GC', 'STATUS', '/run/netns/none', 'eth0', ''),
    fc.string({ maxLength: 12 }).map((s) => s.replace(/\0/g, '')),
  ),
);
const stdin = fc.oneof(
  fc.json().map((s) => Buffer.from(s)),
  fc
    .record({ cniVersion: fc.constantFrom('1.0.0', '0.4.0', '9.9.9'), name: fc.string({ maxLength: 6 }), type: fc.constant('fake') })
    .map((o) => Buffer.from(JSON.stringify(o))),
  bytes(64),
);
const wellFormed = fc
  .tuple(fc.constantFrom('fake', 'nope', ''), env, stdin)
  .filter(([type]) => type !== '')
  .map(([type, e, s]) => encodeRequest({ type, env: e, stdin: s }));
const payload = fc.oneof(
  bytes(64),
  fc.tuple(fc.oneof(fc.nat(3000), fc.nat(), fc.constant(0xffffffff)), bytes(3000)).map(([n, b]) => withLength(n, b)),
  wellFormed,
  fc.tuple(wellFormed, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([f, at, v]) => {
    const g = Buffer.from(f);
    g[at % g.length] = v;
    return g;
  }),
  fc.tuple(wellFormed, fc.nat()).map(([f, n]) => f.subarray(0, n % f.length)),
  fc.tuple(wellFormed, bytes(16)).map(([f, extra]) => Buffer.concat([f, extra])),
);
/** How the client ends: half-close and read the answer, or close at once. */
const client = fc.record({ data: payload, end: fc.constantFrom('half-close', 'destroy') });

/** Sends and ends as told; resolves what came back. */
function talk(socket: string, c: { data: Buffer; end: string }): Promise<Buffer> {
  return new Promise((res) => {
    const s = createConnection(socket);
    const got: Buffer[] = [];
    s.on('data', (d) => got.push(d));
    s.on('error', () => {});
    s.on('close', () => res(Buffer.concat(got)));
    s.on('connect', () => {
      if (c.end === 'destroy') s.write(c.data, () => s.destroy());
      else s.end(c.data);
    });
  });
}

it('tsnetd under fuzzed clients: stays up, answers each with nothing or a well-formed frame, serves after, holds nothing after', async (t) => {
  const w = world(t);
  const socket = join(w.tmpdir(), 'd.sock');
  const logged: string[] = [];
  const srv = await startServer({
    socket,
    registry,
    timeoutMs: 5000,
    log: (l) => logged.push(l),
    limits: { maxConnections: 12, maxRequestBytes: 2048, maxBufferedBytes: 6000, readTimeoutMs: 2000 },
  });
  w.defer(() => srv.close(0));
  await fc.assert(
    fc.asyncProperty(fc.array(client, { minLength: 1, maxLength: 24 }), async (clients) => {
      const answers = await Promise.all(clients.map((c) => talk(socket, c)));
      for (const a of answers) {
        if (a.length === 0) continue;
        assert.equal(a.readUInt32BE(0), a.length - 4, 'one whole frame');
        const r = decodeResponse(a.subarray(4));
        assert.ok(r.kind === 'result' || r.kind === 'fallback');
      }
      // Requests handed over finish; then nothing is held.
      for (let i = 0; i < 500 && (srv.inflight() > 0 || srv.usage().open > 0); i++) await new Promise((r) => setTimeout(r, 10));
      const u = srv.usage();
      assert.deepEqual({ open: u.open, reading: u.reading, buffered: u.buffered }, { open: 0, reading: 0, buffered: 0 }, 'nothing held');
      const after = await talk(socket, { data: good, end: 'half-close' });
      assert.equal(decodeResponse(after.subarray(4)).kind, 'result', 'still serving');
    }),
    { numRuns: 60, interruptAfterTimeLimit: 8000 },
  );
  assert.ok(srv.stats().served > 0);
  // A request that could not be served was malformed; none failed for an error of tsnetd's own.
  assert.equal(srv.stats().failed, 0, logged.join('\n'));
});
