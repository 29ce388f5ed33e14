// `tsnet attach … dhcp` against a real DHCP server (busybox udhcpd) in a namespace on the same bridge, with
// each of pipework's forms — udhcpc, dhclient and dhcpcd, in the background and with -f in the foreground, and
// dhcp:OPTIONS: the lease is held for the life of the attachment (renewed by a lease keeper, its address
// carrying the lease's lifetime), the container's name goes as hostname, DNS goes to the container's own
// resolv.conf and never to the host's, and detach (or Ctrl-C of a -f form) releases the lease and ends the
// keeper and its client — or the container going does.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CLI, cliRoot, tsnet } from './attach-cli.js';
import { ip, ipj, needsRoot, world, type World } from './harness.js';
import { HostSim } from './host-sim.js';

const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
const skip = needsRoot || (!busybox ? 'busybox is not installed (apt-get install busybox-static)' : false);
const PATH = (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').concat(['/usr/sbin', '/sbin']);
const installed = (name: string) => PATH.some((d) => d && existsSync(join(d, name)));
const missing = ['dhclient', 'dhcpcd'].filter((c) => !installed(c));
const skipClients =
  skip || (missing.length ? `${missing.join(' and ')} not installed (apt-get install isc-dhcp-client dhcpcd-base)` : false);

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Every process whose network namespace is /run/netns/NAME (the test made it: all of them are ours). */
function processesIn(netns: string): string[] {
  let ino: number;
  try {
    ino = statSync(`/run/netns/${netns}`).ino;
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (statSync(`/proc/${pid}/ns/net`).ino === ino) found.push(`${pid} ${readlinkSync(`/proc/${pid}/exe`)}`);
    } catch {
      /* gone meanwhile */
    }
  }
  return found;
}

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

interface Segment {
  host: string;
  ctr: string;
  /** udhcpd's leases as `busybox dumpleases` shows them now: address → [hostname, expires]. */
  leases(): Promise<Map<string, [string, string]>>;
}

/** host ns (or `hostNs`) with bridge br0, a DHCP server ns on it (udhcpd, lease `lease` s), and a container ns. */
function segment(w: World, lease: number, hostNs?: string): Segment {
  const host = hostNs ?? w.netns('dhost');
  const server = w.netns('dsrv');
  const ctr = w.netns('dctr');
  ip(host, 'link', 'add', 'br0', 'type', 'bridge');
  ip(host, 'link', 'set', 'br0', 'up');
  ip(host, 'link', 'add', 'vsrv', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', server);
  ip(host, 'link', 'set', 'vsrv', 'master', 'br0', 'up');
  ip(server, 'addr', 'add', '192.168.121.1/24', 'dev', 'eth0');
  ip(server, 'link', 'set', 'eth0', 'up');
  const dir = w.tmpdir();
  const leaseFile = join(dir, 'leases');
  writeFileSync(leaseFile, '');
  writeFileSync(
    join(dir, 'udhcpd.conf'),
    [
      'start 192.168.121.100',
      'end 192.168.121.140',
      'interface eth0',
      `lease_file ${leaseFile}`,
      `pidfile ${join(dir, 'udhcpd.pid')}`,
      `min_lease ${lease}`,
      'option subnet 255.255.255.0',
      'option router 192.168.121.1',
      'option dns 192.168.121.53',
      `option lease ${lease}`,
      '',
    ].join('\n'),
  );
  const srv = spawn('ip', ['netns', 'exec', server, busybox!, 'udhcpd', '-f', join(dir, 'udhcpd.conf')], { stdio: 'ignore' });
  w.defer(() => void srv.kill('SIGKILL'));
  return {
    host,
    ctr,
    async leases() {
      const before = existsSync(leaseFile) ? statSync(leaseFile).mtimeMs : 0;
      srv.kill('SIGUSR1'); // udhcpd writes its lease file
      await until('udhcpd to write its leases', () => statSync(leaseFile).mtimeMs !== before, 5000).catch(() => undefined);
      const out = spawnSync(busybox!, ['dumpleases', '-r', '-f', leaseFile], { encoding: 'utf8' }).stdout;
      const m = new Map<string, [string, string]>();
      for (const line of out.split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f.length >= 4) m.set(f[1]!, [f[2]!, f.slice(3).join(' ')]);
      }
      return m;
    },
  };
}

/** What DHCP clients leave on the host: entries of their database and run directories naming `ifname`. */
function hostClientFiles(ifname: string): string[] {
  return ['/var/lib/dhcpcd', '/var/lib/dhcp', '/run/dhcpcd', '/var/run/dhcpcd'].flatMap((d) => {
    try {
      return readdirSync(d)
        .filter((f) => f.includes(ifname))
        .map((f) => join(d, f));
    } catch {
      return [];
    }
  });
}

/** The client the bare `dhcp` form picks, in pipework's order (udhcpc, dhcpcd, dhclient), then busybox's udhcpc. */
function dhcpFormClient(): string {
  return ['udhcpc', 'dhcpcd', 'dhclient'].find(installed) ?? 'udhcpc';
}

interface Attached {
  form: string;
  ctr: string;
  ifname: string;
  address: string;
  keeper: number;
  /** The -f forms: the `tsnet attach` process holding the lease in the foreground. */
  fg?: ChildProcess;
  fgErr?: () => string;
}

describe('tsnet attach with dhcp', { skip }, () => {
  it(
    "every pipework form holds a 20 s lease for 60 s, sends the container's name, releases it on detach, and leaves nothing behind",
    { skip: skipClients },
    async (t) => {
      const w = world(t);
      const seg = segment(w, 20);
      const picked = dhcpFormClient();
      const altName = `other${w.id}`;
      // dhcp:OPTIONS: options for whichever client `dhcp` picks — one that renames the host, so the server shows it.
      const dhcpOpts = picked === 'dhcpcd' ? `dhcp:-h ${altName}` : picked === 'udhcpc' ? `dhcp:-x hostname:${altName}` : undefined;
      const forms = ['udhcpc', 'dhclient', 'dhcpcd', 'udhcpc-f', 'dhclient-f', 'dhcpcd-f', ...(dhcpOpts ? [dhcpOpts] : [])];
      if (!dhcpOpts) t.diagnostic(`dhcp:OPTIONS not tried: the bare dhcp form picks ${picked}, which takes no hostname option`);
      const hostResolv = sha('/etc/resolv.conf');
      const ifname = `d${w.id}`; // unique, so files a client left on the host would be found by name
      const ctrs = new Map<string, string>();
      for (const form of forms) {
        const ctr = form === forms[0] ? seg.ctr : w.netns('dctr');
        ctrs.set(form, ctr);
        const etcNetns = `/etc/netns/${ctr}`;
        mkdirSync(etcNetns, { recursive: true });
        w.defer(() => rmSync(etcNetns, { recursive: true, force: true }));
      }
      await sleep(300);

      const attached: Attached[] = [];
      w.defer(() => {
        for (const a of attached) {
          a.fg?.kill('SIGKILL');
          try {
            process.kill(-a.keeper, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      });
      // All at once (as users would on a shared segment): each `tsnet attach` in its own process.
      const runs = forms.map((form) => {
        const ctr = ctrs.get(form)!;
        const args = ['attach', '--json', '-i', ifname, 'br0', `/run/netns/${ctr}`, form];
        const child = spawn('ip', ['netns', 'exec', seg.host, process.execPath, CLI, ...args], {
          env: { ...process.env, TSNET_ROOT: cliRoot() },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        const io = { stdout: '', stderr: '' };
        child.stdout!.on('data', (d: Buffer) => (io.stdout += d.toString()));
        child.stderr!.on('data', (d: Buffer) => (io.stderr += d.toString()));
        return { form, ctr, child, io };
      });
      w.defer(() => runs.forEach((r) => r.child.kill('SIGKILL')));
      for (const { form, ctr, child, io } of runs) {
        const foreground = form.endsWith('-f');
        // -f: `tsnet attach` prints the lease, then stays in the foreground holding it; else it prints and exits.
        await until(`${form}: the lease`, () => (foreground && io.stdout.includes('\n')) || child.exitCode !== null, 60_000);
        if (foreground) {
          assert.equal(child.exitCode, null, `${form}: tsnet attach stays in the foreground: ${io.stderr}`);
          assert.match(io.stderr, /holding the lease in the foreground/);
        } else assert.equal(child.exitCode, 0, `${form}: ${io.stdout}${io.stderr}`);
        assert.match(io.stderr, new RegExp(`waiting for a DHCP lease on ${ifname}`));
        const res = JSON.parse(io.stdout.split('\n')[0]!) as { keeper: { pid: number }; lease: number; address: string };
        attached.push({
          form,
          ctr,
          ifname,
          address: res.address.split('/')[0]!,
          keeper: res.keeper.pid,
          ...(foreground ? { fg: child, fgErr: () => io.stderr } : {}),
        });
        assert.equal(res.lease, 20, `${form}: the lease time`);
      }

      const addr = (ctr: string) => ipj(ctr, '-4', 'addr', 'show', 'dev', ifname)[0]?.addr_info?.find((a: any) => a.scope === 'global');
      for (const a of attached) {
        const first = addr(a.ctr);
        assert.equal(first?.local, a.address, `${a.form}: the leased address is on ${ifname}`);
        assert.equal(first.prefixlen, 24);
        assert.ok(first.valid_life_time <= 20, `${a.form}: the address carries the lease's lifetime (${first.valid_life_time})`);
        assert.equal(readFileSync(`/etc/netns/${a.ctr}/resolv.conf`, 'utf8'), 'nameserver 192.168.121.53\n', a.form);
      }
      const names = await seg.leases();
      for (const a of attached) {
        const expect = a.form.startsWith('dhcp:') ? altName : a.ctr;
        assert.equal(names.get(a.address)?.[0], expect, `${a.form}: the hostname the server got (${JSON.stringify([...names])})`);
      }

      // Three lease times later every lease is still held: renewed, the address still there, the route too.
      await sleep(60_000);
      for (const a of attached) {
        const later = addr(a.ctr);
        assert.equal(later?.local, a.address, `${a.form}: the leased address is still there after 60 s`);
        assert.ok(later.valid_life_time > 0 && later.valid_life_time <= 20, `${a.form}: ${later.valid_life_time}`);
        assert.deepEqual(
          ipj(a.ctr, 'route', 'show', 'default').map((r: any) => r.gateway),
          ['192.168.121.1'],
          `${a.form}: one default route, through the lease's router`,
        );
        assert.ok(groupAlive(a.keeper), `${a.form}: the lease keeper runs while the attachment lives`);
      }
      const ls = tsnet(seg.host, 'attach', 'ls', '--json');
      assert.equal(ls.status, 0, ls.stderr);
      const recs = JSON.parse(ls.stdout) as any[];
      for (const a of attached) {
        const rec = recs.find((x) => x.netnsPath === `/run/netns/${a.ctr}`);
        const client = a.form.startsWith('dhcp') ? picked : a.form.replace(/-f$/, '');
        assert.equal(rec?.dhcp?.client, client, a.form);
        assert.equal(rec?.state, 'present', a.form);
      }

      for (const a of attached) {
        if (a.fg) {
          a.fg.kill('SIGINT'); // Ctrl-C
          await until(`${a.form}: tsnet attach to end`, () => a.fg!.exitCode !== null, 20_000);
          assert.equal(a.fg.exitCode, 0, a.fgErr!());
          assert.match(a.fgErr!(), /released the lease and detached/);
          assert.ok(!ipj(a.ctr, 'link', 'show').some((l: any) => l.ifname === ifname), `${a.form}: ${ifname} is gone`);
        } else {
          const d = tsnet(seg.host, 'detach', '-i', ifname, `/run/netns/${a.ctr}`);
          assert.equal(d.status, 0, `${a.form}: ${d.stderr}`);
        }
        assert.equal(groupAlive(a.keeper), false, `${a.form}: detach ends the keeper and its client`);
        assert.deepEqual(processesIn(a.ctr), [], `${a.form}: no process left in the container's netns`);
      }
      const after = await seg.leases();
      for (const a of attached) assert.equal(after.get(a.address)?.[1], 'expired', `${a.form}: the lease was released`);
      assert.deepEqual(hostClientFiles(ifname), [], 'no client file on the host');
      assert.equal(sha('/etc/resolv.conf'), hostResolv, "the host's /etc/resolv.conf is unchanged");
    },
  );

  it('ends the keeper and its client when the container goes', async (t) => {
    const w = world(t);
    const { host, ctr } = segment(w, 600);
    await sleep(300);
    const r = tsnet(host, 'attach', '--json', '-i', 'net1', 'br0', `/run/netns/${ctr}`, 'udhcpc:-O 42');
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const { keeper } = JSON.parse(r.stdout) as { keeper: { pid: number } };
    w.defer(() => {
      try {
        process.kill(-keeper.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    });
    assert.ok(groupAlive(keeper.pid));
    ip(null, 'netns', 'del', ctr);
    await until('the keeper to notice the container is gone', () => !groupAlive(keeper.pid));
  });

  it("a tsnet container's lease DNS goes to its own /etc/resolv.conf, and its name is the hostname sent", async (t) => {
    const w = world(t);
    const sim = await HostSim.create(w);
    const seg = segment(w, 600, sim.host);
    sim.tsnet('image', 'from-host', 'img');
    const name = `web${w.id}`;
    sim.tsnet('run', '-d', '--name', name, '--net', 'none', 'img', 'sleep', '1000');
    const hostResolv = sha('/etc/resolv.conf');
    const out = JSON.parse(sim.tsnet('attach', '--json', 'br0', name, 'udhcpc')) as { keeper: { pid: number }; address: string };
    w.defer(() => {
      try {
        process.kill(-out.keeper.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    });
    assert.equal(sim.tsnet('exec', name, 'cat', '/etc/resolv.conf'), 'nameserver 192.168.121.53\n');
    assert.equal((await seg.leases()).get(out.address.split('/')[0]!)?.[0], name, 'the container name is the hostname the server got');
    sim.tsnet('detach', name);
    assert.equal(groupAlive(out.keeper.pid), false, 'detach ends the keeper');
    assert.equal(sha('/etc/resolv.conf'), hostResolv, "the host's /etc/resolv.conf is unchanged");
  });
});
