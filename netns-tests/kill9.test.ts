// The kill -9 campaign: bridge ADDs and DELs killed at random moments, by the standalone plugin and through
// tsnetd (the shim killed — the daemon finishes the work nobody will hear of — or the daemon itself killed in
// the middle), in a namespace that plays the host. Then, as a runtime does, the containers whose attachment
// died are removed and GC runs with the attachments still valid: nothing may be left of the others — no
// address in the store, no veth on the host, no rule in tsnet's table — and the valid ones must be intact.
// The kill moments are drawn from the measured length of an ADD, so the campaign adapts to the machine's
// speed instead of depending on it; what was drawn is in every failure message.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { masqOwner } from '../plugins/shared/owners.js';
import { OUR_CNI, REF_CNI, REPO } from './cni-exec.js';
import { ipj, needsRoot, sh, world, type World } from './harness.js';
import { addressHolders, ruleOwners, tsnetIn } from './state-probe.js';

const FAST = join(REPO, 'dist', 'cni-fast');
const TSNETD = join(REPO, 'dist', 'plugins', 'daemon', 'tsnetd-main.js');
const SHIM = join(REPO, 'native', 'build', 'Release', 'tsnet-cni-shim');
/** Trials per way in (standalone, tsnetd): one ADD each, and a DEL of every other one that succeeded. */
const TRIALS = 20;

let laidOut: Promise<void> | undefined;
function ensureLayout(): Promise<void> {
  laidOut ??= (async () => {
    const mod = (await import(pathToFileURL(join(REPO, 'plugins', 'cni', 'build.mjs')).href)) as { layoutFastPath: () => unknown };
    mod.layoutFastPath();
  })();
  return laidOut;
}

interface Daemon {
  proc: ChildProcess;
  exited: Promise<unknown>;
}

/** tsnetd in `host`, resolved once it listens; SIGKILLed at the end of the test if still running. */
async function startDaemon(w: World, host: string, root: string, socket: string): Promise<Daemon> {
  const proc = spawn('ip', ['netns', 'exec', host, process.execPath, TSNETD], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TSNET_SOCKET: socket, TSNET_ROOT: root },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise((res) => proc.once('exit', res));
  w.defer(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await exited;
    }
  });
  let log = '';
  proc.stderr!.setEncoding('utf8');
  await new Promise<void>((res, rej) => {
    proc.stderr!.on('data', (d: string) => {
      log += d;
      if (log.includes('listening on')) res();
    });
    proc.once('exit', (code) => rej(new Error(`tsnetd exited with ${code}: ${log}`)));
  });
  return { proc, exited };
}

interface Outcome {
  /** Exit status; null when killed. */
  status: number | null;
  ms: number;
  out: string;
}

/**
 * Execs `file` in `host` as a runtime would; `kill(child)` is called after `killAfterMs` (if it is still
 * running), to SIGKILL it or something else.
 */
function exec(
  host: string,
  file: string,
  command: 'ADD' | 'DEL',
  conf: unknown,
  cid: string,
  ctr: string,
  env: Record<string, string>,
  killAfterMs?: number,
  kill: (child: ChildProcess) => void = (c) => c.kill('SIGKILL'),
): Promise<Outcome> {
  const t0 = performance.now();
  const p = spawn('ip', ['netns', 'exec', host, file], {
    env: {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      CNI_COMMAND: command,
      CNI_CONTAINERID: cid,
      CNI_NETNS: `/run/netns/${ctr}`,
      CNI_IFNAME: 'eth0',
      CNI_PATH: `${OUR_CNI}:${REF_CNI}`,
      ...env,
    },
  });
  let out = '';
  p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  p.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  p.stdin.on('error', () => undefined); // killed before it read its config
  p.stdin.end(JSON.stringify(conf));
  const timer = killAfterMs === undefined ? undefined : setTimeout(() => kill(p), killAfterMs);
  return new Promise((res) =>
    p.on('close', (status) => {
      clearTimeout(timer);
      res({ status, ms: performance.now() - t0, out });
    }),
  );
}

describe('kill -9 campaign', { skip: needsRoot || (!existsSync(SHIM) ? 'native shim not built (npm run build:native)' : false) }, () => {
  it(`${2 * TRIALS} ADDs and their DELs killed at random moments, standalone and through tsnetd: GC leaves no address, veth or rule of a dead attachment`, async (t) => {
    await ensureLayout();
    const w = world(t);
    const host = w.netns('host');
    const root = w.tmpdir();
    const socket = join(w.tmpdir(), 'd.sock');
    const confDir = join(root, 'net.d');
    mkdirSync(confDir);
    const net = `k9${w.id}`;
    const bridge = `tk9${w.id}`;
    const plugin = { type: 'bridge', bridge, isDefaultGateway: true, ipMasq: true, ipam: { type: 'tsnet-ipam', subnet: '10.76.0.0/24' } };
    writeFileSync(join(confDir, `${net}.conflist`), JSON.stringify({ cniVersion: '1.1.0', name: net, plugins: [plugin] }));
    const conf = { cniVersion: '1.1.0', name: net, ...plugin };
    const env = { TSNET_ROOT: root, TSNET_SOCKET: socket };

    interface Attachment {
      cid: string;
      ctr: string;
      /** valid: ADD answered, no DEL tried; gone: DEL answered; dead: ADD or DEL did not answer. */
      state: 'valid' | 'gone' | 'dead';
      address?: string;
    }
    const all: Attachment[] = [];
    const log: string[] = [];
    const trial = async (
      way: string,
      file: string,
      n: number,
      killAfter: () => number,
      kill?: (child: ChildProcess) => void,
      after?: () => Promise<void>,
    ) => {
      const a: Attachment = { cid: `${way}${n}-${w.id}`, ctr: w.netns('c'), state: 'dead' };
      all.push(a);
      const addAt = killAfter();
      const add = await exec(host, file, 'ADD', conf, a.cid, a.ctr, env, addAt, kill);
      await after?.();
      log.push(`${a.cid} ADD kill@${addAt.toFixed(1)}ms: ${add.status ?? 'killed'}`);
      if (add.status !== 0) return;
      a.state = 'valid';
      a.address = JSON.parse(add.out).ips[0].address;
      if (n % 2) return; // every other successful ADD stays; the rest are DELed, and that DEL killed too
      const delAt = killAfter();
      const del = await exec(host, file, 'DEL', conf, a.cid, a.ctr, env, delAt, kill);
      await after?.();
      log.push(`${a.cid} DEL kill@${delAt.toFixed(1)}ms: ${del.status ?? 'killed'}`);
      a.state = del.status === 0 ? 'gone' : 'dead';
    };
    /** Uniform in [lo·d, hi·d] ms. */
    const between = (d: number, lo: number, hi: number) => () => d * (lo + (hi - lo) * (randomInt(1_000_000) / 1_000_000));

    // Standalone: an unkilled ADD measures how long one takes; kills then fall anywhere from Node's start to
    // just past the answer.
    const standalone = join(OUR_CNI, 'bridge');
    const calibCtr = w.netns('c');
    const calib = await exec(host, standalone, 'ADD', conf, `calib-${w.id}`, calibCtr, env);
    assert.equal(calib.status, 0, calib.out);
    all.push({ cid: `calib-${w.id}`, ctr: calibCtr, state: 'valid', address: JSON.parse(calib.out).ips[0].address });
    for (let n = 0; n < TRIALS; n++) await trial('s', standalone, n, between(calib.ms, 0.3, 1.1));

    // Through tsnetd: the shim killed (odd trials: the daemon goes on with the work), or the daemon killed
    // mid-request (even trials) and started again.
    let daemon = await startDaemon(w, host, root, socket);
    const shim = join(FAST, 'bridge');
    const dcalibCtr = w.netns('c');
    const dcalib = await exec(host, shim, 'ADD', conf, `dcalib-${w.id}`, dcalibCtr, env);
    assert.equal(dcalib.status, 0, dcalib.out);
    all.push({ cid: `dcalib-${w.id}`, ctr: dcalibCtr, state: 'valid', address: JSON.parse(dcalib.out).ips[0].address });
    let daemonKilled = false;
    const killTheDaemon = () => {
      daemonKilled = true;
      daemon.proc.kill('SIGKILL');
    };
    const restartIfKilled = async () => {
      if (!daemonKilled) return;
      await daemon.exited;
      daemonKilled = false;
      daemon = await startDaemon(w, host, root, socket);
    };
    for (let n = 0; n < TRIALS; n++) {
      const killDaemon = n % 2 === 0;
      await trial('d', shim, n, between(dcalib.ms, 0, 1.2), killDaemon ? killTheDaemon : undefined, restartIfKilled);
    }
    // The daemon may still be working for a shim that was killed: it is killed too, like any crash.
    daemon.proc.kill('SIGKILL');
    await daemon.exited;

    const valid = all.filter((a) => a.state === 'valid');
    const dead = all.filter((a) => a.state === 'dead');
    const story = `\n${log.join('\n')}`;
    t.diagnostic(
      `valid ${valid.length}, dead ${dead.length}, DELed ${all.length - valid.length - dead.length} (ADD ${calib.ms.toFixed(0)} ms standalone, ${dcalib.ms.toFixed(0)} ms through tsnetd)`,
    );
    // Dead attachments for GC to collect: the daemon's kills alone fall before its answer 5 times in 6.
    assert.ok(dead.length >= 3, `only ${dead.length} attachments died: the campaign proved little${story}`);

    // The runtime removes the containers whose attachment died, then collects garbage with the valid ones.
    for (const a of dead) sh('ip', 'netns', 'del', a.ctr);
    tsnetIn(host, root, 'cni', 'gc', net, '--conf-dir', confDir, ...valid.flatMap((a) => ['--valid', `${a.cid}:eth0`]));

    assert.deepEqual(await addressHolders(root, net), valid.map((a) => `${a.cid}/eth0`).sort(), `addresses held${story}`);
    assert.deepEqual(ruleOwners(host), valid.map((a) => masqOwner(net, a.cid, 'eth0')).sort(), `masquerade rules${story}`);
    // A removed netns takes its veth with it when the kernel gets to it (asynchronously): waited for, bounded.
    const veths = () => ipj(host, 'link', 'show', 'type', 'veth');
    for (let i = 0; i < 200 && veths().length > valid.length; i++) await new Promise((r) => setTimeout(r, 50));
    const left = veths();
    assert.equal(left.length, valid.length, `veths on the host: ${left.map((l: any) => l.ifname).join(' ')}${story}`);
    for (const l of left) assert.equal(l.master, bridge, `${l.ifname} is a port of ${bridge}`);
    assert.deepEqual(
      ipj(host, 'link', 'show')
        .map((l: any) => l.ifname)
        .filter((n: string) => n !== 'lo' && n !== bridge && !left.some((v: any) => v.ifname === n)),
      [],
      'no other link on the host',
    );
    // The valid attachments are intact; a DEL that answered left nothing in its container.
    for (const a of valid) {
      const eth0 = ipj(a.ctr, 'addr', 'show', 'dev', 'eth0')[0];
      assert.ok(
        eth0?.addr_info.some((x: any) => `${x.local}/${x.prefixlen}` === a.address),
        `${a.cid} still has ${a.address}${story}`,
      );
    }
    for (const a of all.filter((g) => g.state === 'gone'))
      assert.deepEqual(
        ipj(a.ctr, 'link', 'show').map((l: any) => l.ifname),
        ['lo'],
        `${a.cid}: its DEL answered, so nothing is left in it`,
      );
  });
});
