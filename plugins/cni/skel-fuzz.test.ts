// A standing fuzz test of the CNI entry (fast-check): random and mutated CNI_* environments and stdin configs go
// through the skel's dispatch — the path of every executable — into the real tsnet-ipam plugin, and into each
// of tsnet's plugins' config checks in front of a plugin that touches nothing. Whatever comes in, the answer is
// a success or the spec's error JSON with a code that says what was wrong: never a throw, never 999 (an error
// nobody classified), never output that cannot be printed. Nothing here touches the kernel; state goes to a
// private root. A failure prints its seed and the shrunk input; TSNET_FUZZ_SEED=<seed> replays it,
// TSNET_FUZZ_RUNS=<n> runs more cases, TSNET_FUZZ_STATS=1 prints how far the cases got (answers by verb and code).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { dispatch, parseNetConf, type Outcome, type SkelOptions } from './skel.js';
import { parseCniArgs, parseEnv } from './env.js';
import { CniError, ErrorCode, SUPPORTED_VERSIONS, type NetConf } from './types.js';
import { probePlugin } from './testdata/probe-plugin.js';
import { tsnetIpamEntry } from '../tsnet-ipam/plugin.js';
import { inProcessPlugins } from '../registry.js';
import { noAddon } from '../shared/fixtures/ipam-calls.js';

const RUNS = Number(process.env.TSNET_FUZZ_RUNS) > 0 ? Number(process.env.TSNET_FUZZ_RUNS) : 1000;
const SEED = process.env.TSNET_FUZZ_SEED !== undefined ? Number(process.env.TSNET_FUZZ_SEED) : undefined;
/** The number of cases bounds each property; the time limit only caps a machine far slower than usual (not a failure). */
const params = (runs = RUNS): fc.Parameters<unknown> => ({
  numRuns: runs,
  ...(SEED !== undefined ? { seed: SEED } : {}),
  interruptAfterTimeLimit: 60_000,
  markInterruptAsFailure: false,
});

/** Codes an answer may carry: the spec's well-known ones and tsnet-ipam's own (100-102). */
const SPEC_CODES = new Set<number>([1, 2, 3, 4, 5, 6, 7, 11, 50, 51, 100, 101, 102]);
const CLONE_NEWNET = 0x40000000;
/** On nsfs like our netns but another namespace; the stub below calls it a network namespace. */
const OTHER_NS = '/proc/self/ns/mnt';
const stub = { nsType: () => CLONE_NEWNET };

// --- arbitraries ---------------------------------------------------------------------------------------------
// Values are drawn from plausible ones (so that most cases get deep: allocation, release, GC, results), and then
// a few fields of an object are spoilt — removed or replaced by a value of the wrong kind.

/** A value of the wrong kind (or a string where a structured one is wanted). */
const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(''),
  fc.jsonValue({ maxDepth: 2 }),
);
/** Absent or `arb` (`often`: mostly present). */
const opt = <T>(arb: fc.Arbitrary<T>, often = false): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: often ? 1 : 3, arbitrary: fc.constant(undefined) }, { weight: often ? 9 : 1, arbitrary: arb });
/** Objects from `arb`, one in five with one or two of its fields spoilt (removed, or junk). */
function spoilt<T extends object>(arb: fc.Arbitrary<T>, keys: readonly string[]): fc.Arbitrary<Record<string, unknown>> {
  const spoil = fc.array(fc.tuple(fc.constantFrom(...keys), fc.oneof(fc.constant(undefined), junk)), { minLength: 1, maxLength: 2 });
  return fc
    .tuple(arb, fc.oneof({ weight: 4, arbitrary: fc.constant([] as [string, unknown][]) }, { weight: 1, arbitrary: spoil }))
    .map(([o, spoils]) => {
      const out: Record<string, unknown> = { ...(o as Record<string, unknown>) };
      for (const [k, v] of spoils) out[k] = v;
      return out;
    });
}
/** A list from `arb`, one in twenty with an element that is junk. */
const list = <T>(arb: fc.Arbitrary<T>, maxLength: number, minLength = 0): fc.Arbitrary<unknown[]> =>
  fc
    .tuple(
      fc.array(arb, { minLength, maxLength }),
      fc.oneof({ weight: 19, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.tuple(fc.nat(), junk) }),
    )
    .map(([xs, bad]) => {
      const out: unknown[] = [...xs];
      if (bad) out.splice(bad[0] % (out.length + 1), 0, bad[1]);
      return out;
    });

const v4net = fc.tuple(fc.nat(0xffffffff), fc.integer({ min: 0, max: 32 })).map(([a, len]) => {
  const n = len === 0 ? 0 : (a >>> (32 - len)) << (32 - len);
  return `${[24, 16, 8, 0].map((s) => ((n >>> 0) >>> s) & 255).join('.')}/${len}`;
});
const cidr: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom('10.1.0.0/24', '10.1.0.0/30', '10.2.0.0/16', '10.1.0.0/28', 'fd00:1::/64', 'fd00:1::/120', 'fd00:1::/126'),
  },
  { weight: 2, arbitrary: v4net },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.tuple(fc.ipV4(), fc.integer({ min: -1, max: 40 })).map(([a, l]) => `${a}/${l}`),
      fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 130 })).map(([a, l]) => `${a}/${l}`),
      fc.constantFrom(
        '10.1.0.0/31',
        '10.1.0.1/32',
        '0.0.0.0/0',
        'fd00:1::/127',
        '::ffff:10.1.0.0/120',
        '10.1.0.0/024',
        ' 10.1.0.0/24',
        '10.1.0.0',
      ),
    ),
  },
);
const addr: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom('10.1.0.1', '10.1.0.2', '10.1.0.3', '10.1.0.9', '10.1.0.254', '10.2.3.4', 'fd00:1::1', 'fd00:1::9'),
  },
  {
    weight: 1,
    arbitrary: fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom('10.1.0.0', '10.1.0.255', '::', '1.2.3', '010.1.0.1', '10.1.0.1/24')),
  },
);
const name = fc.oneof(
  { weight: 30, arbitrary: fc.constantFrom('net1', 'net2', 'n-3') },
  { weight: 1, arbitrary: fc.constantFrom('..', '-x', 'a/b', '') },
);
const ifname = fc.oneof(
  { weight: 30, arbitrary: fc.constantFrom('eth0', 'eth1') },
  { weight: 1, arbitrary: fc.constantFrom('', 'a/b', '0123456789abcdef') },
);

const range = spoilt(
  fc.record({ subnet: cidr, rangeStart: opt(addr), rangeEnd: opt(addr), gateway: opt(addr) }, { requiredKeys: ['subnet'] }),
  ['subnet', 'rangeStart', 'rangeEnd', 'gateway'],
);
const rangeSets = list(list(range, 3, 1), 3);
const routes = list(spoilt(fc.record({ dst: cidr, gw: opt(addr) }, { requiredKeys: ['dst'] }), ['dst', 'gw']), 3);

interface Places {
  root: string;
  dataDir: string;
  resolvConf: string;
}

/** tsnet-ipam's keys (host-local's and its own). Paths only ever name the test's own directories. */
function ipamArb(p: Places): fc.Arbitrary<Record<string, unknown>> {
  const rare = <T>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<unknown>) =>
    fc.oneof(
      { weight: 10, arbitrary: fc.constant(undefined) },
      { weight: 4, arbitrary: good as fc.Arbitrary<unknown> },
      { weight: 1, arbitrary: bad },
    );
  return spoilt(
    fc.record(
      {
        type: fc.constant('tsnet-ipam'),
        subnet: opt(fc.oneof({ weight: 5, arbitrary: cidr }, { weight: 1, arbitrary: fc.constant('auto') }), true),
        rangeStart: opt(addr),
        rangeEnd: opt(addr),
        gateway: opt(addr),
        ranges: opt(rangeSets),
        routes: opt(routes),
        prefixLength: opt(fc.integer({ min: -2, max: 130 })),
        pools: opt(list(spoilt(fc.record({ base: cidr, size: fc.integer({ min: -1, max: 130 }) }), ['base', 'size']), 2)),
        network: opt(name),
        resolvConf: rare(fc.constant(p.resolvConf), fc.constantFrom(join(p.root, 'missing'), p.root, 7)),
        dataDir: rare(fc.constant(p.dataDir), fc.constantFrom(0, '')),
        root: rare(fc.constant(p.root), fc.constant(false)),
      },
      { requiredKeys: ['type'] },
    ),
    ['type', 'subnet', 'rangeStart', 'rangeEnd', 'gateway', 'ranges', 'routes', 'prefixLength', 'pools', 'network'],
  );
}

const prevResult = spoilt(
  fc.record(
    {
      cniVersion: fc.constantFrom(...SUPPORTED_VERSIONS),
      interfaces: opt(
        list(fc.record({ name: ifname, mac: opt(fc.constantFrom('02:00:00:00:00:01', 'zz')), sandbox: opt(fc.constant(OTHER_NS)) }), 2),
      ),
      ips: opt(
        list(
          spoilt(
            fc.record(
              {
                address: cidr,
                gateway: opt(addr),
                interface: opt(fc.integer({ min: -1, max: 3 })),
                version: opt(fc.constantFrom('4', '6')),
              },
              { requiredKeys: ['address'] },
            ),
            ['address', 'gateway', 'interface', 'version'],
          ),
          2,
        ),
      ),
      routes: opt(routes),
      dns: opt(fc.record({ nameservers: opt(list(addr, 2)) })),
    },
    { requiredKeys: ['cniVersion'] },
  ),
  ['cniVersion', 'interfaces', 'ips', 'routes', 'dns'],
);

function confArb(p: Places, types: fc.Arbitrary<string>): fc.Arbitrary<Record<string, unknown>> {
  return spoilt(
    fc.record(
      {
        cniVersion: fc.oneof(
          { weight: 12, arbitrary: fc.constantFrom(...SUPPORTED_VERSIONS, '1.0.0', '1.1.0', '1.1.0') },
          { weight: 1, arbitrary: fc.constantFrom('0.2.0', '1.2.0', '1.0', '') },
        ),
        name,
        type: types,
        ipam: ipamArb(p),
        runtimeConfig: opt(
          spoilt(fc.record({ ips: opt(list(fc.oneof(addr, cidr), 3)), ipRanges: opt(rangeSets), portMappings: opt(list(junk, 2)) }), [
            'ips',
            'ipRanges',
          ]),
        ),
        args: opt(fc.record({ cni: fc.record({ ips: list(addr, 2) }) })),
        prevResult: opt(prevResult),
        'cni.dev/valid-attachments': opt(
          list(
            spoilt(fc.record({ containerID: fc.constantFrom('ctr1', 'ctr2'), ifname: fc.constantFrom('eth0', 'eth1') }), [
              'containerID',
              'ifname',
            ]),
            3,
          ),
        ),
        // Other plugins' keys, for their config checks.
        bridge: opt(name),
        isGateway: opt(fc.boolean()),
        isDefaultGateway: opt(fc.boolean()),
        ipMasq: opt(fc.boolean()),
        mtu: opt(fc.integer({ min: -1, max: 70000 })),
        vlan: opt(fc.integer({ min: -1, max: 5000 })),
        uplink: opt(name),
        address: opt(fc.oneof(cidr, addr)),
        gateway: opt(addr),
        mac: opt(fc.constantFrom('02:42:0a:00:00:05', '02:42:0a:00:00', 'ff:ff:ff:ff:ff:ff')),
        routes: opt(list(fc.record({ dst: cidr, gw: opt(addr), dev: opt(ifname), metric: opt(fc.integer({ min: -1, max: 1 << 20 })) }), 2)),
        dns: opt(fc.record({ nameservers: opt(list(addr, 2)), search: opt(list(fc.constantFrom('example', 'a.b'), 2)) })),
      },
      { requiredKeys: ['cniVersion', 'name', 'type', 'ipam'] },
    ),
    ['cniVersion', 'name', 'type', 'ipam', 'prevResult', 'runtimeConfig', 'cni.dev/valid-attachments', 'dns', 'mtu', 'routes'],
  );
}

/** Without fast-check's bias towards extremes, which would pick the last (rarest) choice of every weighted oneof far too often. */
const unbiased = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T> => fc.noBias(arb);

/** A JSON text cut, spliced or pasted into: the decoder and every check behind it must cope. */
const mutated = (text: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc
    .tuple(text, fc.nat(), fc.nat(8), fc.string({ maxLength: 4 }), fc.constantFrom('insert', 'delete', 'replace', 'truncate'))
    .map(([t, at, len, piece, how]) => {
      const i = t.length === 0 ? 0 : at % t.length;
      if (how === 'insert') return t.slice(0, i) + piece + t.slice(i);
      if (how === 'delete') return t.slice(0, i) + t.slice(i + len + 1);
      if (how === 'replace') return t.slice(0, i) + piece + t.slice(i + piece.length);
      return t.slice(0, i);
    });

/** The config without the keys that name paths: a mutation must not turn the test's directory into another. */
function withoutPaths(c: Record<string, unknown>): Record<string, unknown> {
  const ipam = c.ipam;
  if (!ipam || typeof ipam !== 'object') return c;
  const { root: _r, dataDir: _d, resolvConf: _c, ...rest } = ipam as Record<string, unknown>;
  return { ...c, ipam: rest };
}

function stdinArb(p: Places, types: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const conf = confArb(p, types);
  return unbiased(
    fc.oneof(
      { weight: 12, arbitrary: conf.map((c) => JSON.stringify(c)) },
      { weight: 2, arbitrary: mutated(conf.map((c) => JSON.stringify(withoutPaths(c)))) },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? '') },
      { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
    ),
  );
}

const ENV_KEYS = ['CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH', 'CNI_ARGS'] as const;
/** What a runtime passes (mostly well-formed, so that most cases reach the plugin), then now and then one variable spoilt. */
const envArb: fc.Arbitrary<Record<string, string | undefined>> = unbiased(
  fc
    .tuple(
      fc.record({
        CNI_COMMAND: fc.constantFrom('ADD', 'ADD', 'ADD', 'DEL', 'DEL', 'CHECK', 'GC', 'STATUS', 'VERSION'),
        CNI_CONTAINERID: fc.constantFrom('ctr1', 'ctr2', 'ctr3'),
        CNI_NETNS: fc.constant(OTHER_NS),
        CNI_IFNAME: fc.constantFrom('eth0', 'eth1'),
        CNI_PATH: fc.constant('/usr/lib/cni'),
        CNI_ARGS: fc.oneof(
          { weight: 3, arbitrary: fc.constant('') },
          fc.constantFrom('IP=10.1.0.2', 'IgnoreUnknown=1;IP=10.1.0.3,fd00:1::3', 'IP=10.1.0.1', 'IP=10.1.0.255', 'IP=', 'K8S_POD_NAME=x'),
          fc
            .array(fc.tuple(fc.constantFrom('IP', 'K8S_POD_NAME', 'X'), fc.oneof(addr, cidr, fc.string({ maxLength: 5 }))), {
              maxLength: 3,
            })
            .map((kv) => kv.map(([k, v]) => `${k}=${v}`).join(';')),
        ),
      }),
      fc.oneof(
        { weight: 5, arbitrary: fc.constant(undefined) },
        {
          weight: 1,
          arbitrary: fc.tuple(
            fc.constantFrom(...ENV_KEYS),
            fc.oneof(
              fc.constant(undefined),
              fc.constantFrom(
                '',
                'add',
                'DELETE',
                '/proc/self/ns/net',
                '/run/netns/tsnet-fuzz-missing',
                '/',
                'relative',
                '/dev/null',
                '=x',
                'x',
                'a/b',
              ),
              fc.constantFrom('0123456789abcdef', '..', '-x', 'a b'),
              fc.string({ maxLength: 18 }),
            ),
          ),
        },
      ),
    )
    .map(([env, spoil]) => (spoil ? { ...env, [spoil[0]]: spoil[1] } : env)),
);

// --- the property ---------------------------------------------------------------------------------------------

/** Answers by verb and code (TSNET_FUZZ_STATS): shows that most cases get past the checks into the plugin. */
const STATS = new Map<string, number>();
after(() => {
  if (process.env.TSNET_FUZZ_STATS)
    console.error(
      [...STATS]
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => `${n}\t${k}`)
        .join('\n'),
    );
});

/** An answer a runtime can take: a success, or the spec's error JSON with a code that says what was wrong. */
function assertSpecAnswer(o: Outcome, command: unknown): void {
  if (process.env.TSNET_FUZZ_STATS) {
    const k = `${String(command)} ${o.exitCode === 0 ? 'ok' : `${o.error?.code} ${o.error?.message.slice(0, 50)}`}`;
    STATS.set(k, (STATS.get(k) ?? 0) + 1);
  }
  assert.ok(o.exitCode === 0 || o.exitCode === 1, `exit code ${o.exitCode}`);
  const text = o.stdout === undefined ? undefined : JSON.stringify(o.stdout); // what runPlugin prints
  if (o.exitCode === 0) {
    assert.equal(o.error, undefined);
    if (command === 'ADD' || command === 'VERSION')
      assert.equal(typeof (JSON.parse(text!) as { cniVersion?: unknown }).cniVersion, 'string');
    return;
  }
  assert.ok(o.error instanceof CniError);
  const e = JSON.parse(text!) as { cniVersion?: unknown; code?: unknown; msg?: unknown; details?: unknown };
  assert.equal(typeof e.cniVersion, 'string');
  assert.equal(typeof e.msg, 'string');
  assert.ok((e.msg as string).length > 0, 'an error says what is wrong');
  assert.ok(
    typeof e.code === 'number' && SPEC_CODES.has(e.code),
    `code ${String(e.code)} (${String(e.msg)}${e.details ? `; ${String(e.details)}` : ''}) is not a classified CNI error${o.error.code === ErrorCode.Internal ? `\n${o.error.stack}` : ''}`,
  );
}

/**
 * A private root for one test, with a resolv.conf to read; TSNET_ROOT points at it for configs naming none, and
 * the test runs in it, so that even a path made up by the generator (a relative one) lands inside.
 */
function places(): Places & { done(): void } {
  const base = mkdtempSync(join(tmpdir(), 'tsnet-fuzz-'));
  const cwd = process.cwd();
  process.chdir(base);
  const root = join(base, 'root');
  const dataDir = join(base, 'data');
  mkdirSync(root);
  const resolvConf = join(base, 'resolv.conf');
  writeFileSync(resolvConf, 'nameserver 10.1.0.53\nsearch example\noptions ndots:2 edns0\nnameserver fd00::53\n# c\n\ndomain x\n');
  const before = process.env.TSNET_ROOT;
  process.env.TSNET_ROOT = root;
  return {
    root,
    dataDir,
    resolvConf,
    done() {
      process.chdir(cwd);
      if (before === undefined) delete process.env.TSNET_ROOT;
      else process.env.TSNET_ROOT = before;
      rmSync(base, { recursive: true, force: true });
    },
  };
}

test(
  'fuzz: the CNI entry into tsnet-ipam answers every env and stdin with a success or a classified spec error',
  { skip: noAddon },
  async () => {
    const p = places();
    try {
      await fc.assert(
        fc.asyncProperty(envArb, stdinArb(p, fc.constant('tsnet-ipam')), async (env, stdin) => {
          const o = await dispatch(tsnetIpamEntry.plugin, tsnetIpamEntry.opts, env, stdin, stub);
          assertSpecAnswer(o, env.CNI_COMMAND);
        }),
        params(),
      );
    } finally {
      p.done();
    }
  },
);

test('fuzz: every plugin config check (in front of a plugin that touches nothing) answers with a classified spec error', async () => {
  const p = places();
  try {
    const entries = Object.entries(inProcessPlugins());
    const types = fc.constantFrom(...entries.map(([type]) => type));
    await fc.assert(
      fc.asyncProperty(fc.nat(entries.length - 1), envArb, stdinArb(p, types), async (i, env, stdin) => {
        const opts = entries[i]![1].opts as SkelOptions<NetConf>;
        const o = await dispatch(probePlugin, opts, env, stdin, stub);
        assertSpecAnswer(o, env.CNI_COMMAND);
      }),
      params(),
    );
  } finally {
    p.done();
  }
});

test('fuzz: parseNetConf, parseEnv and parseCniArgs return or throw CniError with their spec code', () => {
  const p = places();
  try {
    fc.assert(
      fc.property(stdinArb(p, fc.constant('tsnet-ipam')), (stdin) => {
        try {
          const conf = parseNetConf(stdin, SUPPORTED_VERSIONS);
          assert.ok((SUPPORTED_VERSIONS as readonly string[]).includes(conf.cniVersion));
          assert.equal(typeof conf.name, 'string');
          assert.equal(typeof conf.type, 'string');
        } catch (e) {
          assert.ok(e instanceof CniError && [1, 6, 7].includes(e.code), String(e));
        }
      }),
      params(RUNS * 3),
    );
    fc.assert(
      fc.property(envArb, (env) => {
        try {
          const args = parseEnv(env);
          assert.ok(args.netns === '' || args.netns.startsWith('/'));
        } catch (e) {
          assert.ok(e instanceof CniError && e.code === ErrorCode.InvalidEnvironment, String(e));
        }
        try {
          const kv = parseCniArgs(env.CNI_ARGS ?? '');
          for (const k of Object.keys(kv)) assert.ok(k.length > 0);
        } catch (e) {
          assert.ok(e instanceof CniError && e.code === ErrorCode.InvalidEnvironment, String(e));
        }
      }),
      params(RUNS * 3),
    );
  } finally {
    p.done();
  }
});
