// tsnetd and the CNI fast path (native shim → daemon → the same `dispatch` as the standalone plugins).
// The daemon runs as a child process inside a namespace that plays the host (`ip netns exec H node …`),
// with TSNET_SOCKET and TSNET_ROOT in temp dirs, and is killed when each test ends.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { IpamStore, ipamDir } from '../ipam/store.js';
import { callDaemon } from '../plugins/daemon/client.js';
import { decodeResponse, encodeRequest } from '../plugins/daemon/protocol.js';
import type { Registry } from '../plugins/daemon/registry.js';
import { startServer } from '../plugins/daemon/server.js';
import { CniError } from '../plugins/cni/types.js';
import { OUR_CNI, REPO } from './cni-exec.js';
import { ensureLayout, exec, FAST, norm, SHIM, startDaemon } from './daemon-fixture.js';
import { ipj, needsRoot, world } from './harness.js';

async function held(root: string, network: string): Promise<number> {
  const store = new IpamStore(ipamDir(root, network));
  if (!store.exists()) return 0;
  return (await store.read()).size;
}

function bridgeConf(id: string, bridge: string, subnet: string, version = '1.0.0'): Record<string, unknown> {
  return {
    cniVersion: version,
    name: `net${id}`,
    type: 'bridge',
    bridge,
    isGateway: true,
    isDefaultGateway: true,
    ipam: { type: 'tsnet-ipam', subnet },
  };
}

describe('tsnetd server (in-process, fake plugins)', { skip: needsRoot }, () => {
  const registry = (slowMs: number): Registry =>
    new Map([
      [
        'fake',
        {
          opts: { name: 'fake' },
          plugin: {
            add: async (conf) => {
              await new Promise((r) => setTimeout(r, slowMs));
              return { cniVersion: conf.cniVersion, ips: [{ address: '10.9.9.9/24' }] };
            },
            del: async () => {},
            check: async () => {
              throw new CniError(100, 'fake check failed', 'details here');
            },
          },
        },
      ],
    ]);
  let ctrNs = '';
  const env = (command: string) => ({
    CNI_COMMAND: command,
    CNI_CONTAINERID: 'c1',
    CNI_NETNS: `/run/netns/${ctrNs}`,
    CNI_IFNAME: 'eth0',
    CNI_PATH: '/nowhere',
    TSNET_ROOT: process.env.TSNET_ROOT,
  });
  const conf = JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'fake' });

  it('answers, declines what it must not answer, bounds a request with its timeout, and is root-only', async (t) => {
    const w = world(t);
    ctrNs = w.netns('c');
    const dir = join(w.tmpdir(), 'run');
    const socket = join(dir, 'd.sock');
    const srv = await startServer({ socket, registry: registry(300), timeoutMs: 100 });
    w.defer(() => srv.close(0));
    assert.equal(statSync(dir).mode & 0o777, 0o700, 'socket dir 0700');
    assert.equal(lstatSync(socket).mode & 0o777, 0o600, 'socket 0600');

    const chk = await callDaemon({ type: 'fake', env: env('CHECK'), stdin: conf, socket });
    assert.equal(chk?.kind, 'result');
    if (chk?.kind !== 'result') return;
    assert.equal(chk.exitCode, 1);
    assert.deepEqual(JSON.parse(chk.stdout.toString()), {
      cniVersion: '1.0.0',
      code: 100,
      msg: 'fake check failed',
      details: 'details here',
    });

    const slow = await callDaemon({ type: 'fake', env: env('ADD'), stdin: conf, socket });
    assert.equal(slow?.kind, 'result');
    if (slow?.kind === 'result') {
      const j = JSON.parse(slow.stdout.toString());
      assert.equal(slow.exitCode, 1);
      assert.equal(j.code, 11);
      assert.match(j.msg, /did not finish within 100 ms/);
    }

    assert.deepEqual(await callDaemon({ type: 'nope', env: env('ADD'), stdin: conf, socket }), {
      kind: 'fallback',
      reason: 'plugin type "nope" is not served by tsnetd',
    });
    const other = await callDaemon({ type: 'fake', env: { ...env('ADD'), TSNET_ROOT: '/elsewhere' }, stdin: conf, socket });
    assert.equal(other?.kind, 'fallback');
    assert.match((other as { reason: string }).reason, /TSNET_ROOT is \/elsewhere/);

    // A second daemon on the same socket is refused; nothing listening → undefined (caller runs standalone).
    await assert.rejects(startServer({ socket, registry: registry(0) }), /another tsnetd is already answering/);
    await srv.close(0);
    assert.equal(existsSync(socket), false, 'socket removed on close');
    assert.equal(await callDaemon({ type: 'fake', env: env('ADD'), stdin: conf, socket }), undefined);
  });

  it('runs requests of one network one at a time, other networks alongside; a request timed out in the queue never runs', async (t) => {
    const w = world(t);
    ctrNs = w.netns('c');
    let running = 0;
    let peak = 0;
    let started = 0;
    const reg: Registry = new Map([
      [
        'fake',
        {
          opts: { name: 'fake' },
          plugin: {
            add: async (conf) => {
              started++;
              running++;
              peak = Math.max(peak, running);
              await new Promise((r) => setTimeout(r, 80));
              running--;
              return { cniVersion: conf.cniVersion };
            },
            del: async () => {},
            check: async () => {},
          },
        },
      ],
    ]);
    const socket = join(w.tmpdir(), 'd.sock');
    const srv = await startServer({ socket, registry: reg, timeoutMs: 200 });
    w.defer(() => srv.close(0));
    const on = (name: string) =>
      callDaemon({ type: 'fake', env: env('ADD'), stdin: JSON.stringify({ cniVersion: '1.0.0', name, type: 'fake' }), socket });
    const same = await Promise.all([on('a'), on('a'), on('a'), on('a')]);
    assert.equal(peak, 1, 'one at a time on network a');
    const codes = same.map((r) => (r?.kind === 'result' ? r.exitCode : -1));
    assert.deepEqual(codes.slice(0, 2), [0, 0]);
    assert.equal((same[3] as { stdout: Buffer }).stdout.toString().includes('"code": 11'), true, 'the 4th waited past its 200 ms deadline');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(started <= 3, `the request that timed out in the queue was not run (started ${started})`);
    peak = 0;
    await Promise.all([on('x'), on('y'), on('z')]);
    assert.equal(peak, 3, 'different networks run alongside');
  });

  it('drops a connection that sends no complete, well-formed request, and goes on serving', async (t) => {
    const w = world(t);
    ctrNs = w.netns('c');
    const socket = join(w.tmpdir(), 'd.sock');
    const lines: string[] = [];
    const srv = await startServer({ socket, registry: registry(0), readTimeoutMs: 300, log: (l) => lines.push(l) });
    w.defer(() => srv.close(0));
    /** Connects, sends `data` (half-closing when asked), and resolves with what came back once the server closed. */
    const exchange = (data: Buffer, halfClose: boolean) =>
      new Promise<Buffer>((res, rej) => {
        const c = createConnection(socket);
        const got: Buffer[] = [];
        c.on('data', (d) => got.push(d));
        c.on('error', rej);
        c.on('close', () => res(Buffer.concat(got)));
        c.write(data, () => (halfClose ? c.end() : undefined));
      });
    const reqEnv = Object.fromEntries(Object.entries(env('CHECK')).filter((e): e is [string, string] => e[1] !== undefined));
    const frame = encodeRequest({ type: 'fake', env: reqEnv, stdin: Buffer.from(conf) });
    const head = Buffer.alloc(4);
    head.writeUInt32BE(100);
    const huge = Buffer.alloc(4);
    huge.writeUInt32BE(64 * 1024 * 1024);
    assert.equal((await exchange(Buffer.concat([head, Buffer.from('short')]), true)).length, 0);
    // Over the size limit: told at once to run the standalone plugin.
    assert.deepEqual(decodeResponse((await exchange(huge, false)).subarray(4)), {
      kind: 'fallback',
      reason: "a request of 67108864 bytes exceeds tsnetd's limit of 1048576 bytes per request",
    });
    assert.equal((await exchange(Buffer.concat([frame, Buffer.from('x')]), true)).length, 0);
    assert.equal((await exchange(Buffer.alloc(0), false)).length, 0, 'nothing sent: dropped after readTimeoutMs');
    // The same failure again within a minute is counted, not logged again.
    assert.equal((await exchange(Buffer.concat([head, Buffer.from('short')]), true)).length, 0);
    assert.deepEqual(
      lines.filter((l) => !l.startsWith('listening')),
      [
        'client closed the connection in the middle of its request',
        "refused a request: a request of 67108864 bytes exceeds tsnetd's limit of 1048576 bytes per request; its caller runs the standalone plugin",
        'extra bytes after the frame',
        'client did not send its whole request within 300 ms; dropped',
      ],
    );
    // Still serving, and a request sent in pieces is read whole.
    const ok = await exchange(frame, true);
    const res = decodeResponse(ok.subarray(4));
    assert.equal(res.kind, 'result');
    assert.equal(srv.stats().served, 1);
    assert.deepEqual(srv.usage(), { open: 0, reading: 0, buffered: 0, refused: 1 }, 'nothing held once all are answered or dropped');
  });

  it('an answer bigger than the socket buffer goes out as the client reads it, and holds up no other request', async (t) => {
    const w = world(t);
    ctrNs = w.netns('c');
    const socket = join(w.tmpdir(), 'd.sock');
    const search = Array.from({ length: 60_000 }, (_, i) => `domain-${i}.example.internal`); // ~2 MiB of JSON
    const big: Registry = new Map([
      ...registry(0),
      [
        'big',
        {
          opts: { name: 'big' },
          plugin: { add: async (conf) => ({ cniVersion: conf.cniVersion, dns: { search } }), del: async () => {}, check: async () => {} },
        },
      ],
    ]);
    const srv = await startServer({ socket, registry: big });
    w.defer(() => srv.close(0));
    const reqEnv = Object.fromEntries(Object.entries(env('ADD')).filter((e): e is [string, string] => e[1] !== undefined));
    // A client that sends its request and does not read yet.
    const slow = createConnection(socket);
    slow.pause();
    await new Promise<void>((res) =>
      slow.end(
        encodeRequest({
          type: 'big',
          env: reqEnv,
          stdin: Buffer.from(JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'big' })),
        }),
        () => res(),
      ),
    );
    await new Promise((r) => setTimeout(r, 100));
    // Another request is answered meanwhile (with a blocked event loop it would wait for the slow reader).
    const other = await callDaemon({ type: 'fake', env: env('ADD'), stdin: conf, socket });
    assert.equal(other?.kind, 'result');
    // Now read the big answer: whole.
    const got: Buffer[] = [];
    slow.on('data', (d) => got.push(d));
    const closed = new Promise((res) => slow.on('close', res));
    slow.resume();
    await closed;
    const all = Buffer.concat(got);
    assert.equal(all.readUInt32BE(0), all.length - 4, 'the whole frame arrived');
    const res = decodeResponse(all.subarray(4));
    assert.equal(res.kind, 'result');
    if (res.kind === 'result') assert.equal(JSON.parse(res.stdout.toString()).dns.search.length, search.length);
  });

  it('out of file descriptors, the daemon pauses accepting, stays up, and serves again once it has some', async (t) => {
    const w = world(t);
    const dir = w.tmpdir();
    const socket = join(dir, 'd.sock');
    // A child daemon with a low fd limit: it fills its table, reports when full, frees on a signal.
    const server = pathToFileURL(join(REPO, 'dist', 'plugins', 'daemon', 'server.js')).href;
    const script = `
      const { openSync, closeSync } = require('node:fs');
      import(${JSON.stringify(server)}).then(async ({ startServer }) => {
        await startServer({ socket: ${JSON.stringify(socket)}, registry: new Map(), log: (l) => console.log('LOG', l) });
        const held = [];
        try { for (;;) held.push(openSync('/dev/null', 'r')); } catch { console.log('FULL'); }
        process.on('SIGUSR1', () => { for (const fd of held) closeSync(fd); console.log('FREED'); });
      });`;
    const child = spawn('sh', ['-c', `ulimit -n 64 && exec "${process.execPath}" -e '${script.replace(/'/g, "'\\''")}'`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    w.defer(() => {
      child.kill('SIGKILL');
    });
    let out = '';
    const seen = (what: string) =>
      new Promise<void>((res, rej) => {
        const check = () => (out.includes(what) ? res() : undefined);
        child.stdout!.on('data', (d) => {
          out += d;
          check();
        });
        child.once('exit', (code) => rej(new Error(`daemon exited (${code}) before "${what}": ${out}`)));
        check();
      });
    await seen('FULL');
    const attempt = callDaemon({ type: 'none', env: { CNI_COMMAND: 'VERSION' }, stdin: '{"cniVersion":"1.0.0"}', socket }).catch(
      () => undefined,
    );
    await seen('pausing for 100 ms');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(child.exitCode, null, 'still running while accepting is paused');
    child.kill('SIGUSR1');
    await seen('FREED');
    // The connection waiting in the backlog is accepted once fds are back, and answered (a fallback: no plugins).
    assert.deepEqual(await attempt, { kind: 'fallback', reason: 'plugin type "none" is not served by tsnetd' });
  });

  it('replaces a stale socket, refuses a non-socket, and drains requests in flight on close', async (t) => {
    const w = world(t);
    ctrNs = w.netns('c');
    const dir = w.tmpdir();
    const blocker = join(dir, 'file.sock');
    writeFileSync(blocker, 'x');
    await assert.rejects(startServer({ socket: blocker, registry: registry(0) }), /not a socket is in the way/);

    const socket = join(dir, 'd.sock');
    // A daemon that died: its socket file stays, nothing listens.
    const killed = spawnSync(process.execPath, [
      '-e',
      "require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))",
      socket,
    ]);
    assert.equal(killed.signal, 'SIGKILL');
    assert.ok(lstatSync(socket).isSocket());

    const srv = await startServer({ socket, registry: registry(200), timeoutMs: 5000 });
    w.defer(() => srv.close(0));
    const pending = callDaemon({ type: 'fake', env: env('ADD'), stdin: conf, socket });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(srv.inflight(), 1);
    // A client halfway through sending its request when the daemon starts closing is still read, and told to
    // run the standalone plugin (nothing was started for it).
    const reqEnv = Object.fromEntries(Object.entries(env('ADD')).filter((e): e is [string, string] => e[1] !== undefined));
    const frame = encodeRequest({ type: 'fake', env: reqEnv, stdin: Buffer.from(conf) });
    const late = createConnection(socket);
    const lateAnswer = new Promise<Buffer>((res, rej) => {
      const got: Buffer[] = [];
      late.on('data', (d) => got.push(d));
      late.on('error', rej);
      late.on('close', () => res(Buffer.concat(got)));
    });
    await new Promise<void>((res) => late.write(frame.subarray(0, 10), () => res()));
    await new Promise((r) => setTimeout(r, 20));
    const closed = srv.close();
    late.end(frame.subarray(10));
    const answer = await lateAnswer;
    assert.deepEqual(decodeResponse(answer.subarray(4)), { kind: 'fallback', reason: 'tsnetd is shutting down' });
    await closed;
    const res = await pending;
    assert.equal(res?.kind, 'result');
    if (res?.kind === 'result') {
      assert.equal(res.exitCode, 0);
      assert.equal(JSON.parse(res.stdout.toString()).ips[0].address, '10.9.9.9/24');
    }
  });
});

describe(
  'tsnetd fast path on the kernel',
  { skip: needsRoot || (!existsSync(SHIM) ? 'native shim not built (npm run build:native)' : false) },
  () => {
    it('shim → daemon answers exactly as the standalone plugin, success and error alike', async (t) => {
      await ensureLayout();
      const w = world(t);
      const hs = w.netns('hs');
      const hd = w.netns('hd');
      const ctr = w.netns('ctr');
      const rootS = w.tmpdir();
      const rootD = w.tmpdir();
      const socket = join(w.tmpdir(), 'd.sock');
      const d = await startDaemon(w, hd, rootD, socket);
      const bridge = `tbr${w.id}`;
      const base = bridgeConf(w.id, bridge, '10.62.0.0/24');
      const netns = `/run/netns/${ctr}`;

      type Step = { label: string; command: string; conf: unknown; env?: Record<string, string>; netns?: string; stderr?: boolean };
      const steps = (): Step[] => [
        { label: 'VERSION', command: 'VERSION', conf: { cniVersion: '0.4.0' } },
        { label: 'no CNI_COMMAND', command: '', conf: base, env: { CNI_COMMAND: '\0unset' }, stderr: true },
        { label: 'unknown CNI_COMMAND', command: 'FROB', conf: base },
        { label: 'stdin not JSON', command: 'ADD', conf: 'nope{', netns },
        { label: 'stdin empty', command: 'ADD', conf: '', netns },
        { label: 'missing CNI_IFNAME', command: 'ADD', conf: base, netns, env: { CNI_IFNAME: '' } },
        { label: 'bad container id', command: 'ADD', conf: base, netns, env: { CNI_CONTAINERID: '-bad id' } },
        { label: 'netns missing', command: 'ADD', conf: base, netns: '/run/netns/tsnet-no-such-ns' },
        { label: 'unsupported version', command: 'ADD', conf: { ...base, cniVersion: '9.9.9' }, netns },
        { label: 'invalid bridge config', command: 'ADD', conf: { ...base, hairpinMode: true, promiscMode: true }, netns },
        { label: 'CHECK without prevResult', command: 'CHECK', conf: base, netns },
        { label: 'ADD', command: 'ADD', conf: base, netns },
      ];
      const run = async (mode: 'standalone' | 'daemon', list: Step[]) => {
        const out: Record<string, { status: number | null; stdout: string; stderr?: string }> = {};
        const raw: Record<string, string> = {};
        for (const s of list) {
          const r = await exec({
            hostNs: mode === 'standalone' ? hs : hd,
            file: join(mode === 'standalone' ? OUR_CNI : FAST, 'bridge'),
            command: s.command,
            conf: s.conf,
            containerId: `c-${w.id}`,
            netns: s.netns ?? '',
            env: { TSNET_ROOT: mode === 'standalone' ? rootS : rootD, TSNET_SOCKET: socket, ...s.env },
          });
          out[s.label] = { status: r.status, stdout: norm(r.stdout), ...(s.stderr ? { stderr: r.stderr } : {}) };
          raw[s.label] = r.stdout;
        }
        return { out, raw };
      };
      type Rec = Record<string, { status: number | null; stdout: string; stderr?: string }>;
      const lifecycle = async (mode: 'standalone' | 'daemon'): Promise<{ steps: Rec; kernel: string; brAddrs: string[] }> => {
        const { out: first, raw } = await run(mode, steps());
        assert.equal(first.ADD!.status, 0, `${mode} ADD: ${first.ADD!.stdout}`);
        const added = JSON.parse(raw.ADD!);
        // The kernel state the ADD produced, with the random parts masked.
        const kernel = norm(
          JSON.stringify(
            ipj(ctr, 'addr', 'show', 'dev', 'eth0').map((l: any) => ({
              mtu: l.mtu,
              operstate: l.operstate,
              addrs: l.addr_info.map((a: any) => `${a.local}/${a.prefixlen}`).filter((a: string) => !a.startsWith('fe80')),
            })),
          ),
        );
        const host = mode === 'standalone' ? hs : hd;
        const brAddrs = ipj(host, 'addr', 'show', 'dev', bridge)[0]
          .addr_info.map((a: any) => `${a.local}/${a.prefixlen}`)
          .filter((a: string) => !a.startsWith('fe80'));
        const later: Step[] = [
          { label: 'CHECK', command: 'CHECK', conf: { ...base, prevResult: added }, netns },
          { label: 'ADD again (interface exists)', command: 'ADD', conf: base, netns },
          { label: 'DEL', command: 'DEL', conf: base, netns },
          { label: 'DEL again', command: 'DEL', conf: base, netns },
          { label: 'GC', command: 'GC', conf: { ...base, cniVersion: '1.1.0', 'cni.dev/valid-attachments': [] } },
          { label: 'STATUS', command: 'STATUS', conf: { ...base, cniVersion: '1.1.0' } },
        ];
        const { out: second } = await run(mode, later);
        assert.equal(ipj(ctr, 'link', 'show').filter((l: any) => l.ifname === 'eth0').length, 0, `${mode}: eth0 gone after DEL`);
        return { steps: { ...first, ...second }, kernel, brAddrs };
      };

      const standalone = await lifecycle('standalone');
      const daemon = await lifecycle('daemon');
      assert.deepEqual(daemon, standalone);
      assert.equal(standalone.steps.CHECK!.status, 0, standalone.steps.CHECK!.stdout);
      assert.equal(await held(rootD, `net${w.id}`), 0);
      assert.match(d.log(), /listening/);
      // The daemon answered (not the fallback): nothing of the daemon's ADD is in hs, and the store is rootD's.
      assert.ok(existsSync(ipamDir(rootD, `net${w.id}`)), 'the daemon used its own state root');
    });

    it('every type the daemon serves answers as its standalone executable (VERSION, no command, loopback/none ADD/DEL)', async (t) => {
      await ensureLayout();
      const w = world(t);
      const h = w.netns('h');
      const ctr = w.netns('c');
      const root = w.tmpdir();
      const socket = join(w.tmpdir(), 'd.sock');
      const d = await startDaemon(w, h, root, socket);
      const { defaultRegistry } = await import('../plugins/daemon/registry.js');
      const types = [...defaultRegistry().keys()];
      const netns = `/run/netns/${ctr}`;
      for (const type of types) {
        const conf = { cniVersion: '1.0.0', name: `n${w.id}`, type };
        const calls: { command: string; env?: Record<string, string>; netns?: string }[] = [
          { command: 'VERSION' },
          { command: '', env: { CNI_COMMAND: '\0unset' } },
        ];
        if (type === 'loopback' || type === 'none') calls.push({ command: 'ADD', netns }, { command: 'DEL', netns });
        for (const c of calls) {
          const one = (file: string) =>
            exec({
              hostNs: h,
              file,
              command: c.command,
              conf,
              netns: c.netns ?? '',
              containerId: `c-${w.id}`,
              env: { TSNET_ROOT: root, TSNET_SOCKET: socket, ...c.env },
            });
          const viaDaemon = await one(join(FAST, type));
          const standalone = await one(join(OUR_CNI, type));
          assert.deepEqual(
            { ...viaDaemon, stdout: norm(viaDaemon.stdout), json: undefined },
            { ...standalone, stdout: norm(standalone.stdout), json: undefined },
            `${type} ${c.command || '(none)'}`,
          );
        }
      }
      d.proc.kill('SIGTERM');
      await d.exited;
      assert.match(d.log(), new RegExp(`stopped after ${types.length * 2 + 4} answered, 0 declined`));
    });

    it('16 concurrent ADDs, CHECKs and DELs through the daemon: unique addresses, nothing left behind', async (t) => {
      await ensureLayout();
      const w = world(t);
      const h = w.netns('h');
      const root = w.tmpdir();
      const socket = join(w.tmpdir(), 'd.sock');
      await startDaemon(w, h, root, socket);
      const bridge = `tbr${w.id}`;
      const conf = bridgeConf(w.id, bridge, '10.63.0.0/24');
      const ctrs = Array.from({ length: 16 }, () => w.netns('c'));
      const call = (command: string, i: number, c: unknown = conf) =>
        exec({
          hostNs: h,
          file: join(FAST, 'bridge'),
          command,
          conf: c,
          containerId: `c${i}-${w.id}`,
          netns: `/run/netns/${ctrs[i]}`,
          env: { TSNET_ROOT: root, TSNET_SOCKET: socket },
        });

      const adds = await Promise.all(ctrs.map((_, i) => call('ADD', i)));
      adds.forEach((r, i) => assert.equal(r.status, 0, `ADD ${i}: ${r.stdout}${r.stderr}`));
      const addrs = adds.map((r) => r.json.ips[0].address as string);
      assert.equal(new Set(addrs).size, 16, `unique addresses: ${addrs.join(' ')}`);
      assert.equal(ipj(h, 'link', 'show', 'master', bridge).length, 16, '16 ports on the bridge');
      assert.equal(await held(root, `net${w.id}`), 16);
      ctrs.forEach((c, i) =>
        assert.ok(ipj(c, 'addr', 'show', 'dev', 'eth0')[0].addr_info.some((a: any) => `${a.local}/${a.prefixlen}` === addrs[i])),
      );

      const checks = await Promise.all(ctrs.map((_, i) => call('CHECK', i, { ...conf, prevResult: adds[i]!.json })));
      checks.forEach((r, i) => assert.equal(r.status, 0, `CHECK ${i}: ${r.stdout}`));

      const dels = await Promise.all(ctrs.map((_, i) => call('DEL', i)));
      dels.forEach((r, i) => assert.equal(r.status, 0, `DEL ${i}: ${r.stdout}`));
      assert.equal(await held(root, `net${w.id}`), 0);
      assert.equal(ipj(h, 'link', 'show', 'master', bridge).length, 0, 'no ports left');
      assert.equal(ipj(h, 'link', 'show', 'type', 'veth').length, 0, 'no veth left in the host');
    });

    it('a daemon killed mid-ADD leaves nothing once DEL runs (standalone fallback), and a new daemon replaces its stale socket', async (t) => {
      await ensureLayout();
      const w = world(t);
      const h = w.netns('h');
      const root = w.tmpdir();
      const socket = join(w.tmpdir(), 'd.sock');
      const d = await startDaemon(w, h, root, socket);
      const bridge = `tbr${w.id}`;
      const conf = bridgeConf(w.id, bridge, '10.64.0.0/24');
      const ctrs = Array.from({ length: 16 }, () => w.netns('c'));
      const call = (command: string, i: number) =>
        exec({
          hostNs: h,
          file: join(FAST, 'bridge'),
          command,
          conf,
          containerId: `c${i}-${w.id}`,
          netns: `/run/netns/${ctrs[i]}`,
          env: { TSNET_ROOT: root, TSNET_SOCKET: socket },
        });

      const adds = ctrs.map((_, i) => call('ADD', i));
      await Promise.race(adds); // the first answer: the rest are in flight
      await d.kill('SIGKILL');
      const outcomes = await Promise.all(adds);
      for (const r of outcomes) {
        if (r.status === 0) continue;
        assert.equal(r.status, 1, r.stderr);
        assert.equal(r.json?.code, 11, `a lost ADD answers "try again later": ${r.stdout}${r.stderr}`);
        assert.match(r.json.msg, /tsnetd closed the connection/);
      }
      assert.ok(existsSync(socket), 'SIGKILL leaves the socket file');

      // No daemon: the shims fall back to the standalone plugin, which DELs whatever the ADDs did.
      const dels = await Promise.all(ctrs.map((_, i) => call('DEL', i)));
      dels.forEach((r, i) => assert.equal(r.status, 0, `DEL ${i}: ${r.stdout}${r.stderr}`));
      assert.equal(await held(root, `net${w.id}`), 0, 'no address leaked');
      assert.equal(ipj(h, 'link', 'show', 'type', 'veth').length, 0, 'no veth leaked in the host');
      for (const c of ctrs) assert.equal(ipj(c, 'link', 'show').filter((l: any) => l.ifname === 'eth0').length, 0, `no eth0 left in ${c}`);

      // A new daemon takes over the stale socket and serves again.
      await startDaemon(w, h, root, socket);
      const again = await call('ADD', 0);
      assert.equal(again.status, 0, again.stdout);
      assert.equal((await call('DEL', 0)).status, 0);
    });

    it('restarting the daemon loses no state: CHECK after restart, next address, DEL frees', async (t) => {
      await ensureLayout();
      const w = world(t);
      const h = w.netns('h');
      const root = w.tmpdir();
      const socket = join(w.tmpdir(), 'd.sock');
      const bridge = `tbr${w.id}`;
      const conf = bridgeConf(w.id, bridge, '10.65.0.0/24');
      const ctrs = [w.netns('c'), w.netns('c'), w.netns('c')];
      const call = (command: string, i: number, c: unknown = conf) =>
        exec({
          hostNs: h,
          file: join(FAST, 'bridge'),
          command,
          conf: c,
          containerId: `c${i}-${w.id}`,
          netns: `/run/netns/${ctrs[i]}`,
          env: { TSNET_ROOT: root, TSNET_SOCKET: socket },
        });

      const d1 = await startDaemon(w, h, root, socket);
      const a0 = await call('ADD', 0);
      assert.equal(a0.status, 0, a0.stdout + a0.stderr);
      const a1 = await call('ADD', 1);
      assert.equal(a1.status, 0, a1.stdout + a1.stderr);
      assert.deepEqual([a0.json.ips[0].address, a1.json.ips[0].address], ['10.65.0.2/24', '10.65.0.3/24']);
      assert.equal(await d1.kill('SIGTERM'), 0, 'clean exit on SIGTERM');
      assert.match(d1.log(), /stopped after 2 answered/);
      assert.equal(existsSync(socket), false, 'SIGTERM removes the socket');

      const d2 = await startDaemon(w, h, root, socket);
      assert.equal((await call('CHECK', 0, { ...conf, prevResult: a0.json })).status, 0);
      assert.equal((await call('CHECK', 1, { ...conf, prevResult: a1.json })).status, 0);
      const a2 = await call('ADD', 2);
      assert.equal(a2.status, 0, a2.stdout + a2.stderr);
      assert.equal(a2.json.ips[0].address, '10.65.0.4/24', 'the restarted daemon continues from the store');
      for (const i of [0, 1, 2]) assert.equal((await call('DEL', i)).status, 0);
      assert.equal(await held(root, `net${w.id}`), 0);
      assert.match(d2.log(), /listening/);
    });

    it('a caller in another network namespace, or with another TSNET_ROOT, gets the standalone plugin', async (t) => {
      await ensureLayout();
      const w = world(t);
      const hd = w.netns('hd');
      const other = w.netns('ho');
      const ctr = w.netns('c');
      const root = w.tmpdir();
      const root2 = w.tmpdir();
      const socket = join(w.tmpdir(), 'd.sock');
      await startDaemon(w, hd, root, socket);
      const bridge = `tbr${w.id}`;
      const conf = bridgeConf(w.id, bridge, '10.66.0.0/24');
      const r = await exec({
        hostNs: other,
        file: join(FAST, 'bridge'),
        command: 'ADD',
        conf,
        containerId: `c-${w.id}`,
        netns: `/run/netns/${ctr}`,
        env: { TSNET_ROOT: root, TSNET_SOCKET: socket },
      });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.equal(ipj(other, 'link', 'show', 'dev', bridge).length, 1, "the bridge is in the caller's namespace");
      assert.equal(ipj(hd, 'link', 'show').filter((l: any) => l.ifname === bridge).length, 0, "not in the daemon's");
      assert.equal(
        (
          await exec({
            hostNs: other,
            file: join(FAST, 'bridge'),
            command: 'DEL',
            conf,
            containerId: `c-${w.id}`,
            netns: `/run/netns/${ctr}`,
            env: { TSNET_ROOT: root, TSNET_SOCKET: socket },
          })
        ).status,
        0,
      );

      const r2 = await exec({
        hostNs: hd,
        file: join(FAST, 'bridge'),
        command: 'ADD',
        conf,
        containerId: `c-${w.id}`,
        netns: `/run/netns/${ctr}`,
        env: { TSNET_ROOT: root2, TSNET_SOCKET: socket },
      });
      assert.equal(r2.status, 0, r2.stdout + r2.stderr);
      assert.equal(await held(root2, `net${w.id}`), 1, "the standalone plugin used the caller's root");
      assert.equal(await held(root, `net${w.id}`), 0, "the daemon's root is untouched");
      assert.equal(
        (
          await exec({
            hostNs: hd,
            file: join(FAST, 'bridge'),
            command: 'DEL',
            conf,
            containerId: `c-${w.id}`,
            netns: `/run/netns/${ctr}`,
            env: { TSNET_ROOT: root2, TSNET_SOCKET: socket },
          })
        ).status,
        0,
      );
    });

    it('the shim alone (no daemon) is the standalone plugin, stdin replayed byte for byte', async (t) => {
      await ensureLayout();
      const w = world(t);
      const h = w.netns('h');
      const socket = join(w.tmpdir(), 'none.sock');
      const big = { cniVersion: '1.0.0', name: 'x', type: 'bridge', pad: 'p'.repeat(200_000), ipam: {} };
      for (const conf of [{ cniVersion: '0.4.0' }, big]) {
        const a = await exec({ hostNs: h, file: join(FAST, 'bridge'), command: 'VERSION', conf, env: { TSNET_SOCKET: socket } });
        const b = await exec({ hostNs: h, file: join(OUR_CNI, 'bridge'), command: 'VERSION', conf });
        assert.deepEqual(a, b);
      }
      const bad = { ...big, cniVersion: '7.0.0' };
      const a = await exec({
        hostNs: h,
        file: join(FAST, 'bridge'),
        command: 'ADD',
        conf: bad,
        netns: '/proc/self/ns/net',
        env: { TSNET_SOCKET: socket },
      });
      assert.equal(a.status, 1);
      assert.equal(a.json.code, 1, 'the config (200 kB) reached the standalone plugin intact');
    });
  },
);
