// `tsnet attach … dhcp` against a real DHCP server (busybox udhcpd) in a namespace on the same bridge: the
// lease is held for the life of the attachment (renewed by a lease keeper, its address carrying the lease's
// lifetime), DNS goes to the container's own resolv.conf and never to the host's, and detach — or the
// container going — ends the keeper and its client.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tsnet } from './attach-cli.js';
import { ip, ipj, needsRoot, world, type World } from './harness.js';

const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
const skip = needsRoot || (!busybox ? 'busybox is not installed (apt-get install busybox-static)' : false);

function dhcpClients(): string[] {
  return spawnSync('pgrep', ['-a', '-f', 'udhcpc|dhclient|dhcpcd|dhcp-keeper'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((l) => l && !l.includes('pgrep'));
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
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

/** host ns with bridge br0, a DHCP server ns on it (udhcpd, lease `lease` s), and a container ns. */
function segment(w: World, lease: number): { host: string; ctr: string } {
  const host = w.netns('dhost');
  const server = w.netns('dsrv');
  const ctr = w.netns('dctr');
  ip(host, 'link', 'add', 'br0', 'type', 'bridge');
  ip(host, 'link', 'set', 'br0', 'up');
  ip(host, 'link', 'add', 'vsrv', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', server);
  ip(host, 'link', 'set', 'vsrv', 'master', 'br0', 'up');
  ip(server, 'addr', 'add', '192.168.121.1/24', 'dev', 'eth0');
  ip(server, 'link', 'set', 'eth0', 'up');
  const dir = w.tmpdir();
  writeFileSync(join(dir, 'leases'), '');
  writeFileSync(
    join(dir, 'udhcpd.conf'),
    [
      'start 192.168.121.100',
      'end 192.168.121.110',
      'interface eth0',
      `lease_file ${join(dir, 'leases')}`,
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
  return { host, ctr };
}

describe('tsnet attach with dhcp', { skip }, () => {
  it('holds a 20 s lease for 60 s, writes DNS only to the netns resolv.conf, and detach ends the client', async (t) => {
    const w = world(t);
    const { host, ctr } = segment(w, 20);
    const etcNetns = `/etc/netns/${ctr}`;
    mkdirSync(etcNetns, { recursive: true });
    w.defer(() => rmSync(etcNetns, { recursive: true, force: true }));
    const hostResolv = sha('/etc/resolv.conf');
    const before = new Set(dhcpClients());
    await sleep(300);

    const r = tsnet(host, 'attach', '--json', 'br0', `/run/netns/${ctr}`, 'dhcp');
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stderr, /waiting for a DHCP lease on eth1/);
    const out = JSON.parse(r.stdout) as { keeper: { pid: number }; lease: number; address: string };
    w.defer(() => {
      try {
        process.kill(-out.keeper.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    });
    assert.equal(out.lease, 20);
    const addr = () => ipj(ctr, '-4', 'addr', 'show', 'dev', 'eth1')[0]?.addr_info?.[0];
    const first = addr();
    assert.match(first.local, /^192\.168\.121\.1(0\d|10)$/);
    assert.equal(first.prefixlen, 24);
    assert.ok(first.valid_life_time <= 20, `the address carries the lease's lifetime, not forever (${first.valid_life_time})`);
    assert.equal(readFileSync(join(etcNetns, 'resolv.conf'), 'utf8'), 'nameserver 192.168.121.53\n');

    // Three lease times later the lease is still held: renewed, the address still there, the route too.
    await sleep(60_000);
    const later = addr();
    assert.equal(later?.local, first.local, 'the leased address is still there after 60 s');
    assert.ok(later.valid_life_time > 0 && later.valid_life_time <= 20);
    assert.equal(ipj(ctr, 'route', 'show', 'default')[0]?.gateway, '192.168.121.1');
    assert.ok(groupAlive(out.keeper.pid), 'the lease keeper runs while the attachment lives');

    const ls = tsnet(host, 'attach', 'ls', '--json');
    assert.equal(ls.status, 0, ls.stderr);
    const rec = (JSON.parse(ls.stdout) as any[]).find((x) => x.netnsPath === `/run/netns/${ctr}`);
    assert.equal(rec?.dhcp?.client, 'udhcpc');
    assert.equal(rec?.state, 'present');

    const d = tsnet(host, 'detach', `/run/netns/${ctr}`);
    assert.equal(d.status, 0, d.stderr);
    assert.equal(groupAlive(out.keeper.pid), false, 'detach ends the keeper and its client');
    assert.deepEqual(
      dhcpClients().filter((l) => !before.has(l)),
      [],
      'no DHCP client left running',
    );
    assert.equal(sha('/etc/resolv.conf'), hostResolv, "the host's /etc/resolv.conf is unchanged");
  });

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
});
