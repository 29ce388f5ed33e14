// tsnetd trusts nothing it is told, and the shim trusts no socket it is pointed at:
// - the caller's namespaces and uid come from the kernel (SO_PEERCRED / pidfd), not from the request;
// - the shim talks only to a root-owned socket in a directory others cannot write, served by root;
// - connections, buffered bytes and the time to send a request are bounded, and over a bound tsnetd refuses,
//   logs once and stays up;
// - the shim under another name (a symlink such as host-local -> tsnet-ipam) is the plugin it links to.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { IpamStore, ipamDir } from '../ipam/store.js';
import { decodeResponse } from '../plugins/daemon/protocol.js';
import type { Registry } from '../plugins/daemon/registry.js';
import { startServer } from '../plugins/daemon/server.js';
import { OUR_CNI } from './cni-exec.js';
import { ensureLayout, exec, FAST, rawCall, rawRequest, SHIM, startDaemon } from './daemon-fixture.js';
import { needsRoot, world, type World } from './harness.js';

const NOBODY = 65534;
const skip = needsRoot || (!existsSync(SHIM) ? 'native shim not built (npm run build:native)' : false);
const MiB = 1024 * 1024;

/** A directory for a socket that others (nobody) can reach: the tmpdir opened to 0755. */
function openDir(w: World): string {
  const d = w.tmpdir();
  chmodSync(d, 0o755);
  return d;
}

/** Resident set size and its peak (KiB) of a process, from /proc/PID/status. */
function memory(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1]);
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
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
    assert.deepEqual(srv.stats(), { served: 1, declined: 2, malformed: 0, failed: 0 });
  });
});

describe('the shim talks only to a socket root owns, in a directory only root can change', { skip }, () => {
  /** A fake tsnetd (root, in this process) that answers every connection with a forged result. */
  async function fakeDaemon(w: World, path: string): Promise<{ connections: () => number }> {
    let n = 0;
    const body = Buffer.concat([Buffer.from('TSN1R'), Buffer.from([0, 0, 0, 0, 0, 0, 0, 17]), Buffer.from('{"forged": true}\n')]);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length);
    const srv = createServer((c) => {
      n++;
      c.on('error', () => {});
      c.resume(); // read (and drop) the request, so the client's close is seen
      c.end(Buffer.concat([head, body]));
    });
    await new Promise<void>((res) => srv.listen(path, res));
    w.defer(() => new Promise<void>((res) => srv.close(() => res())));
    return { connections: () => n };
  }

  const versionVia = (w: World, h: string, socket: string) =>
    exec({ hostNs: h, file: join(FAST, 'bridge'), command: 'VERSION', conf: { cniVersion: '1.0.0' }, env: { TSNET_SOCKET: socket } });

  it('a root listener in a world-writable directory, or behind a symlink into one, is not used', async (t) => {
    await ensureLayout();
    const w = world(t);
    const h = w.netns('h');
    const standalone = await exec({ hostNs: h, file: join(OUR_CNI, 'bridge'), command: 'VERSION', conf: { cniVersion: '1.0.0' } });

    const trusted = join(w.tmpdir(), 'ok.sock'); // root-owned 0700 dir in /tmp (sticky): trusted
    const okFake = await fakeDaemon(w, trusted);
    const viaTrusted = await versionVia(w, h, trusted);
    assert.equal(okFake.connections(), 1, 'control: a trusted socket is used');
    assert.equal(viaTrusted.stdout, '{"forged": true}\n');

    const open = join(openDir(w), 'drop');
    mkdirSync(open);
    chmodSync(open, 0o777); // anyone may put a socket here, or replace root's
    const sock = join(open, 'd.sock');
    const fake = await fakeDaemon(w, sock);
    const r = await versionVia(w, h, sock);
    assert.equal(fake.connections(), 0, 'the listener in a world-writable directory got nothing');
    assert.deepEqual({ status: r.status, stdout: r.stdout }, { status: standalone.status, stdout: standalone.stdout });
    assert.match(r.stderr, /not using .*d\.sock: .*writable by others/);

    const link = join(w.tmpdir(), 'link.sock');
    symlinkSync(sock, link);
    const viaLink = await versionVia(w, h, link);
    assert.equal(fake.connections(), 0, 'a symlink from a trusted directory into an open one is followed to where it leads');
    assert.equal(viaLink.stdout, standalone.stdout);
  });

  it('a socket of another user, served by another user, is not used', async (t) => {
    await ensureLayout();
    const w = world(t);
    const h = w.netns('h');
    const standalone = await exec({ hostNs: h, file: join(OUR_CNI, 'bridge'), command: 'VERSION', conf: { cniVersion: '1.0.0' } });
    const dir = join(openDir(w), 'user');
    mkdirSync(dir, { mode: 0o755 });
    chownSync(dir, NOBODY, NOBODY);
    const sock = join(dir, 'd.sock');
    // nobody's listener: reports each connection on stdout and answers with a forged result.
    const script = `
      const body = Buffer.concat([Buffer.from('TSN1R'), Buffer.alloc(8), Buffer.from('{"forged": true}\\n')]);
      body.writeUInt32BE(17, 9);
      const head = Buffer.alloc(4); head.writeUInt32BE(body.length);
      require('node:net').createServer((c) => { process.stdout.write('CONN\\n'); c.on('error', () => {}); c.end(Buffer.concat([head, body])); })
        .listen(process.argv[1], () => { require('node:fs').chmodSync(process.argv[1], 0o777); process.stdout.write('READY\\n'); });`;
    const child = spawn(process.execPath, ['-e', script, sock], { uid: NOBODY, gid: NOBODY, stdio: ['ignore', 'pipe', 'inherit'] });
    w.defer(() => {
      child.kill('SIGKILL');
    });
    let out = '';
    await new Promise<void>((res, rej) => {
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (out.includes('READY')) res();
      });
      child.once('exit', (c) => rej(new Error(`listener exited ${c}`)));
    });
    const r = await versionVia(w, h, sock);
    assert.deepEqual({ status: r.status, stdout: r.stdout }, { status: standalone.status, stdout: standalone.stdout });
    assert.doesNotMatch(out, /CONN/, "nobody's listener got nothing");
    assert.match(r.stderr, /not using .*d\.sock: .*(uid 65534|owned by)/);
  });
});

describe('the shim under another name is the plugin it links to', { skip }, () => {
  it('host-local -> dist/cni-fast/tsnet-ipam does ADD and DEL with tsnetd and without', async (t) => {
    await ensureLayout();
    const w = world(t);
    const h = w.netns('h');
    const ctr = w.netns('c');
    const root = w.tmpdir();
    const bin = w.tmpdir();
    symlinkSync(join(FAST, 'tsnet-ipam'), join(bin, 'host-local'));
    const conf = { cniVersion: '1.0.0', name: `hl${w.id}`, type: 'bridge', ipam: { type: 'host-local', subnet: '10.67.0.0/24' } };
    const socket = join(w.tmpdir(), 'd.sock');
    const call = (command: string, id: string, sock: string) =>
      exec({
        hostNs: h,
        file: join(bin, 'host-local'),
        command,
        conf,
        containerId: id,
        netns: `/run/netns/${ctr}`,
        env: { TSNET_ROOT: root, TSNET_SOCKET: sock, CNI_PATH: bin },
      });
    const store = new IpamStore(ipamDir(root, `hl${w.id}`));

    // Without tsnetd: the shim runs the standalone tsnet-ipam.
    const alone = await call('ADD', 'c-alone', join(bin, 'none.sock'));
    assert.equal(alone.status, 0, alone.stdout + alone.stderr);
    assert.equal(alone.json.ips[0].address, '10.67.0.2/24');

    // With tsnetd: it answers (not declined), from the same store.
    const d = await startDaemon(w, h, root, socket);
    const viaDaemon = await call('ADD', 'c-daemon', socket);
    assert.equal(viaDaemon.status, 0, viaDaemon.stdout + viaDaemon.stderr);
    assert.equal(viaDaemon.json.ips[0].address, '10.67.0.3/24');
    assert.equal((await store.read()).size, 2);
    assert.equal((await call('DEL', 'c-daemon', socket)).status, 0);
    await d.kill('SIGTERM');
    assert.match(d.log(), /stopped after 2 answered, 0 declined/);
    assert.equal((await call('DEL', 'c-alone', join(bin, 'none.sock'))).status, 0);
    assert.equal((await store.read()).size, 0);
  });
});

describe('the shim reached through links to the build output itself', { skip }, () => {
  it('takes the last name in its symlink chain that is not tsnet-cni-shim; called by its own name, says how to install it', (t) => {
    const w = world(t);
    const bin = w.tmpdir();
    mkdirSync(join(bin, 'x'));
    symlinkSync(SHIM, join(bin, 'bridge'));
    symlinkSync(SHIM, join(bin, 'x', 'tsnet-ipam'));
    symlinkSync('x/tsnet-ipam', join(bin, 'host-local')); // relative, through a link named as a plugin
    const run = (file: string) =>
      spawnSync(file, [], {
        env: { PATH: process.env.PATH, CNI_COMMAND: 'VERSION', TSNET_SOCKET: join(bin, 'none.sock'), TSNET_CNI_STANDALONE_DIR: OUR_CNI },
        input: '{"cniVersion":"1.0.0"}',
        encoding: 'utf8',
      });
    const about = (file: string) =>
      spawnSync(file, [], {
        env: { PATH: process.env.PATH, TSNET_SOCKET: join(bin, 'none.sock'), TSNET_CNI_STANDALONE_DIR: OUR_CNI },
        encoding: 'utf8',
      }).stderr;
    assert.equal(run(join(bin, 'bridge')).stdout, run(join(OUR_CNI, 'bridge')).stdout);
    assert.match(about(join(bin, 'bridge')), /^CNI bridge plugin/);
    assert.match(about(join(bin, 'host-local')), /^CNI IPAM plugin tsnet-ipam/, 'host-local -> x/tsnet-ipam -> the shim is tsnet-ipam');
    const own = spawnSync(SHIM, [], { encoding: 'utf8' });
    assert.equal(own.status, 2);
    assert.match(own.stderr, /install me as <dir>\/<plugin type>/);
  });
});

describe('tsnetd bounds what a client can make it hold', { skip }, () => {
  /** Opens a connection and resolves once it is connected. */
  const connect = (socket: string) =>
    new Promise<Socket>((res, rej) => {
      const c = createConnection(socket);
      c.once('connect', () => res(c));
      c.once('error', rej);
    });
  /** What came back on `c` until it closed, and whether the server closed it. */
  const outcome = (c: Socket) =>
    new Promise<Buffer>((res) => {
      const got: Buffer[] = [];
      c.on('data', (d) => got.push(d));
      c.on('error', () => {});
      c.on('close', () => res(Buffer.concat(got)));
    });

  it('20 unfinished 15 MiB requests: memory stays within the byte budget; the daemon logs once and still serves', async (t) => {
    await ensureLayout();
    const w = world(t);
    const h = w.netns('h');
    const root = w.tmpdir();
    const socket = join(w.tmpdir(), 'd.sock');
    const d = await startDaemon(w, h, root, socket, {
      TSNETD_MAX_REQUEST_BYTES: String(16 * MiB),
      TSNETD_MAX_BUFFERED_BYTES: String(32 * MiB),
    });
    const before = memory(d.proc.pid!);
    const chunk = Buffer.alloc(15 * MiB - 1, 0x41);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(15 * MiB);
    const clients = await Promise.all(Array.from({ length: 20 }, () => connect(socket)));
    w.defer(() => clients.forEach((c) => c.destroy()));
    // Each sends all but the last byte: done when the daemon took it, or refused it.
    await Promise.all(
      clients.map(
        (c) =>
          new Promise<void>((res) => {
            c.on('error', () => res());
            c.on('close', () => res());
            c.write(head);
            c.write(chunk, () => res());
          }),
      ),
    );
    const after = memory(d.proc.pid!);
    const grewMiB = (after.hwm - before.rss) / 1024;
    assert.ok(grewMiB < 100, `tsnetd's peak memory grew by ${grewMiB.toFixed(0)} MiB for 300 MiB of unfinished requests`);
    assert.equal(d.log().match(/unanswered requests/g)?.length, 1, `logged once: ${d.log()}`);

    const standalone = await exec({ hostNs: h, file: join(OUR_CNI, 'bridge'), command: 'VERSION', conf: { cniVersion: '1.0.0' } });
    const r = await exec({
      hostNs: h,
      file: join(FAST, 'bridge'),
      command: 'VERSION',
      conf: { cniVersion: '1.0.0' },
      env: { TSNET_SOCKET: socket, TSNET_ROOT: root },
    });
    assert.equal(r.stdout, standalone.stdout);
    clients.forEach((c) => c.destroy());
    await d.kill('SIGTERM');
    assert.match(d.log(), /stopped after 1 answered/, 'still up and answering');
  });

  it('over the connection limit a client is told to run standalone at once; the daemon logs once and serves again after', async (t) => {
    await ensureLayout();
    const w = world(t);
    const h = w.netns('h');
    const root = w.tmpdir();
    const socket = join(w.tmpdir(), 'd.sock');
    const d = await startDaemon(w, h, root, socket, { TSNETD_MAX_CONNECTIONS: '4', TSNETD_READ_TIMEOUT_MS: '600000' });
    const idle: Socket[] = [];
    for (let i = 0; i < 4; i++) idle.push(await connect(socket));
    w.defer(() => idle.forEach((c) => c.destroy()));
    // The daemon has these four open: each further one is answered "fallback" and closed, without waiting.
    const refused = await Promise.all(Array.from({ length: 6 }, async () => outcome(await connect(socket))));
    for (const b of refused) {
      const a = answer(b);
      assert.equal(a?.kind, 'fallback');
      assert.match((a as { reason: string }).reason, /limit of 4 open connections/);
    }
    // A shim meanwhile falls back to the standalone plugin: the same answer, only slower.
    const standalone = await exec({ hostNs: h, file: join(OUR_CNI, 'bridge'), command: 'VERSION', conf: { cniVersion: '1.0.0' } });
    const viaShim = () =>
      exec({
        hostNs: h,
        file: join(FAST, 'bridge'),
        command: 'VERSION',
        conf: { cniVersion: '1.0.0' },
        env: { TSNET_SOCKET: socket, TSNET_ROOT: root },
      });
    assert.equal((await viaShim()).stdout, standalone.stdout);
    assert.equal(d.log().match(/limit of 4 open connections/g)?.length, 1, `logged once: ${d.log()}`);

    const gone = idle.map((c) => outcome(c));
    idle.forEach((c) => c.end());
    await Promise.all(gone);
    assert.equal((await viaShim()).stdout, standalone.stdout);
    await d.kill('SIGTERM');
    assert.match(d.log(), /stopped after 1 answered/, 'served again once under the limit');
  });

  it('a limit that is not a positive whole number, or a budget smaller than one request, stops tsnetd at start', async (t) => {
    const w = world(t);
    const h = w.netns('h');
    const root = w.tmpdir();
    const socket = join(w.tmpdir(), 'd.sock');
    await assert.rejects(
      startDaemon(w, h, root, socket, { TSNETD_MAX_CONNECTIONS: 'lots' }),
      /exited with 1: .*TSNETD_MAX_CONNECTIONS=lots is not a positive whole number/s,
    );
    await assert.rejects(
      startDaemon(w, h, root, socket, { TSNETD_MAX_REQUEST_BYTES: '4096', TSNETD_MAX_BUFFERED_BYTES: '4096' }),
      /TSNETD_MAX_BUFFERED_BYTES=4096 cannot hold even one request of TSNETD_MAX_REQUEST_BYTES=4096 bytes/,
    );
    assert.equal(existsSync(socket), false, 'nothing left listening');
  });

  it('a client sending a byte at a time is dropped at the deadline for the whole request', async (t) => {
    await ensureLayout();
    const w = world(t);
    const h = w.netns('h');
    const root = w.tmpdir();
    const socket = join(w.tmpdir(), 'd.sock');
    const d = await startDaemon(w, h, root, socket, { TSNETD_READ_TIMEOUT_MS: '1000' });
    const c = await connect(socket);
    w.defer(() => {
      c.destroy();
    });
    const closed = outcome(c);
    let isClosed = false;
    void closed.then(() => (isClosed = true));
    const head = Buffer.alloc(4);
    head.writeUInt32BE(200);
    c.write(head);
    // A byte every 100 ms: each arrives well within a per-byte idle timeout, never within a whole-frame one.
    let sent = 0;
    while (!isClosed && sent < 100) {
      await new Promise((r) => setTimeout(r, 100));
      if (!isClosed) c.write(Buffer.from('x'), () => {});
      sent++;
    }
    assert.ok(isClosed && sent < 100, `still connected after ${sent} bytes, ${sent / 10} s`);
    assert.match(d.log(), /did not send its whole request within 1000 ms/);
  });
});

describe('tsnetd leaves to the standalone plugin what would cost it unbounded memory', { skip }, () => {
  it("a config nested 200,000 levels deep is declined, and the answer is the standalone plugin's", async (t) => {
    await ensureLayout();
    const w = world(t);
    const h = w.netns('h');
    const root = w.tmpdir();
    const socket = join(w.tmpdir(), 'd.sock');
    const d = await startDaemon(w, h, root, socket);
    const conf = `{"cniVersion":"1.0.0","name":"n${w.id}","type":"bridge","x":${'['.repeat(200_000)}${']'.repeat(200_000)}}`;
    const one = (file: string, env: Record<string, string> = {}) =>
      exec({ hostNs: h, file, command: 'VERSION', conf, env: { TSNET_ROOT: root, ...env } });
    const viaShim = await one(join(FAST, 'bridge'), { TSNET_SOCKET: socket });
    const standalone = await one(join(OUR_CNI, 'bridge'));
    assert.equal(standalone.status, 0, standalone.stdout);
    assert.deepEqual({ status: viaShim.status, stdout: viaShim.stdout }, { status: standalone.status, stdout: standalone.stdout });
    await d.kill('SIGTERM');
    assert.match(d.log(), /stopped after 0 answered, 1 declined/);
  });
});
