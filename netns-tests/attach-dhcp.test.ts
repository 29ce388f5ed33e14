// `tsnet attach … dhcp` against a real DHCP server (busybox udhcpd) in a namespace on the same bridge: the
// container gets a lease, the router becomes its default route, and no DHCP client process is left behind.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tsnet } from './attach-cli.js';
import { ip, ipj, needsRoot, world } from './harness.js';

const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
const skip = needsRoot || (!busybox ? 'busybox is not installed (apt-get install busybox-static)' : false);

function dhcpClients(): string[] {
  return spawnSync('pgrep', ['-a', '-f', 'udhcpc|dhclient|dhcpcd'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((l) => l && !l.includes('pgrep'));
}

describe('tsnet attach with dhcp', { skip }, () => {
  it('leases an address from a DHCP server on the bridge and leaves no client running', async (t) => {
    const w = world(t);
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
        'option subnet 255.255.255.0',
        'option router 192.168.121.1',
        'option lease 600',
        '',
      ].join('\n'),
    );
    const before = new Set(dhcpClients());
    const srv = spawn('ip', ['netns', 'exec', server, busybox!, 'udhcpd', '-f', join(dir, 'udhcpd.conf')], { stdio: 'ignore' });
    w.defer(() => void srv.kill('SIGKILL'));
    await new Promise((r) => setTimeout(r, 300));

    const r = tsnet(host, 'attach', 'br0', `/run/netns/${ctr}`, 'dhcp');
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const eth1 = ipj(ctr, '-4', 'addr', 'show', 'dev', 'eth1')[0];
    const lease = eth1.addr_info[0];
    assert.match(lease.local, /^192\.168\.121\.1(0\d|10)$/);
    assert.equal(lease.prefixlen, 24);
    assert.equal(ipj(ctr, 'route', 'show', 'default')[0].gateway, '192.168.121.1');
    const leftover = dhcpClients().filter((l) => !before.has(l));
    assert.deepEqual(leftover, [], 'no DHCP client left running');
  });
});
