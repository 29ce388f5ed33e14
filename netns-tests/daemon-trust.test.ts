// tsnetd trusts nothing it is told:
// - the caller's namespaces and uid come from the kernel (SO_PEERCRED / pidfd), not from the request.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { decodeResponse } from '../plugins/daemon/protocol.js';
import type { Registry } from '../plugins/daemon/registry.js';
import { startServer } from '../plugins/daemon/server.js';
import { rawCall, rawRequest, SHIM, startDaemon } from './daemon-fixture.js';
import { needsRoot, world, type World } from './harness.js';

const NOBODY = 65534;
const skip = needsRoot || (!existsSync(SHIM) ? 'native shim not built (npm run build:native)' : false);

/** A directory for a socket that others (nobody) can reach: the tmpdir opened to 0755. */
function openDir(w: World): string {
  const d = w.tmpdir();
  chmodSync(d, 0o755);
  return d;
}

const version = (root: string) => [`CNI_COMMAND=VERSION`, `TSNET_ROOT=${root}`];
const answer = (b: Buffer) => (b.length ? decodeResponse(b.subarray(4)) : undefined);

describe('tsnetd takes who is calling from the kernel', { skip }, () => {
  it("a forged or empty @netns/@pidns from another namespace is declined; the same from the daemon's namespace is served", async (t) => {
    const w = world(t);
    const hd = w.netns('hd');
    const other = w.netns('ho');
    const root = w.tmpdir();
    const socket = join(w.tmpdir(), 'd.sock');
    const d = await startDaemon(w, hd, root, socket);
    // What a client would claim to pass as the daemon's own: the inodes of its namespaces.
    const forged = [`@netns=${statSync(`/run/netns/${hd}`).ino}`, `@pidns=${statSync('/proc/self/ns/pid').ino}`];
    const stdin = '{"cniVersion":"1.0.0"}';

    const fromOther = answer(await rawCall(socket, rawRequest(['@type=bridge', ...forged, ...version(root)], stdin), { netns: other }));
    assert.equal(fromOther?.kind, 'fallback', 'forged namespaces from another netns are not believed');
    assert.match((fromOther as { reason: string }).reason, /network namespace/);

    const empty = answer(
      await rawCall(socket, rawRequest(['@type=bridge', '@netns=', '@pidns=', ...version(root)], stdin), { netns: other }),
    );
    assert.equal(empty?.kind, 'fallback', 'an empty identity is not a pass');
    assert.match((empty as { reason: string }).reason, /network namespace/);

    const lying = answer(
      await rawCall(socket, rawRequest(['@type=bridge', '@netns=1', '@pidns=2', ...version(root)], stdin), { netns: hd }),
    );
    assert.equal(lying?.kind, 'result', "a caller in the daemon's namespaces is served, whatever it claims");

    await d.kill('SIGTERM');
    assert.match(d.log(), /stopped after 1 answered, 2 declined/);
  });

  it('a caller that is not root is declined (and runs the plugin standalone, with its own rights)', async (t) => {
    const w = world(t);
    const hd = w.netns('hd');
    const root = w.tmpdir();
    const socket = join(openDir(w), 'd.sock');
    const d = await startDaemon(w, hd, root, socket);
    chmodSync(socket, 0o666); // as a careless admin might: the socket file alone must not be the gate
    const frame = rawRequest(['@type=bridge', ...version(root)], '{"cniVersion":"1.0.0"}');

    const asNobody = answer(await rawCall(socket, frame, { netns: hd, uid: NOBODY }));
    assert.equal(asNobody?.kind, 'fallback');
    assert.match((asNobody as { reason: string }).reason, /uid 65534, not as root/);

    const asRoot = answer(await rawCall(socket, frame, { netns: hd }));
    assert.equal(asRoot?.kind, 'result');
    await d.kill('SIGTERM');
    assert.match(d.log(), /stopped after 1 answered, 1 declined/);
  });
});

describe('on kernels without pidfd namespace lookups (before 6.11), tsnetd reads /proc/PID/ns of the peer', { skip }, () => {
  it('another network namespace and a non-root caller are declined, root in its own namespaces is served', async (t) => {
    const w = world(t);
    const other = w.netns('ho');
    const socket = join(openDir(w), 'd.sock');
    const registry: Registry = new Map([
      [
        'fake',
        {
          opts: { name: 'fake' },
          plugin: { add: async (c) => ({ cniVersion: c.cniVersion }), del: async () => {}, check: async () => {} },
        },
      ],
    ]);
    const srv = await startServer({ socket, registry, peerFromProc: true });
    w.defer(() => srv.close(0));
    chmodSync(socket, 0o666);
    const frame = rawRequest(
      [
        '@type=fake',
        '@netns=',
        '@pidns=',
        'CNI_COMMAND=VERSION',
        ...(process.env.TSNET_ROOT ? [`TSNET_ROOT=${process.env.TSNET_ROOT}`] : []),
      ],
      '{"cniVersion":"1.0.0"}',
    );
    const fromOther = answer(await rawCall(socket, frame, { netns: other }));
    assert.match((fromOther as { reason: string }).reason, /caller is in network namespace/);
    const asNobody = answer(await rawCall(socket, frame, { uid: NOBODY }));
    assert.match((asNobody as { reason: string }).reason, /uid 65534, not as root/);
    assert.equal(answer(await rawCall(socket, frame))?.kind, 'result');
    assert.deepEqual(srv.stats(), { served: 1, declined: 2, failed: 0 });
  });
});
