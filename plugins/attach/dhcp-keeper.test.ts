// The lease keeper's pure parts: how each client is run (never configuring the host: its own configuration,
// its events to our script, its files private) and how each client's events are read.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientArgs, clientConfig, clientMounts, parseLeaseEvent } from './dhcp-keeper.js';

const spec = (kind: 'udhcpc' | 'dhclient' | 'dhcpcd', options: string[] = []) => ({ kind, ifname: 'eth1', hostname: 'web', options });

describe('dhcp keeper', () => {
  it('runs each client in the foreground with our script, configuration and files', () => {
    assert.deepEqual(clientArgs(spec('udhcpc', ['-O', '42']), '/k/event.sh', '/k').slice(0, 6), [
      '-f',
      '-R',
      '-i',
      'eth1',
      '-s',
      '/k/event.sh',
    ]);
    assert.ok(clientArgs(spec('udhcpc'), '/k/event.sh', '/k').join(' ').includes('-x hostname:web'));
    const dhc = clientArgs(spec('dhclient', ['-v']), '/k/event.sh', '/k');
    assert.deepEqual(dhc, [
      '-d',
      '-4',
      '-cf',
      '/k/client.conf',
      '-sf',
      '/k/event.sh',
      '-pf',
      '/k/dhclient.pid',
      '-lf',
      '/k/dhclient.leases',
      '-df',
      '/k/dhclient.duid',
      '-v',
      'eth1',
    ]);
    assert.ok(!dhc.includes('-H'), 'ISC dhclient has no -H');
    assert.deepEqual(clientArgs(spec('dhclient', ['-v']), '/k/event.sh', '/k', true).slice(0, 2), ['-r', '-4'], 'release: -r, not -d');
    assert.deepEqual(clientArgs(spec('dhcpcd', ['-t', '9']), '/k/event.sh', '/k'), [
      '-B',
      '-4',
      '-f',
      '/k/client.conf',
      '-c',
      '/k/event.sh',
      '-t',
      '9',
      'eth1',
    ]);
  });

  it("sends the container's name, and makes dhcpcd release and leave the default route to the keeper", () => {
    assert.equal(clientConfig(spec('udhcpc')), undefined);
    assert.match(clientConfig(spec('dhclient'))!, /^send host-name "web";$/m);
    const dd = clientConfig(spec('dhcpcd'))!.split('\n');
    for (const line of ['hostname web', 'release', 'nogateway']) assert.ok(dd.includes(line), line);
    assert.ok(!dd.includes('persistent'));
  });

  it('hides /run, the clients’ databases and /etc/resolv.conf behind private mounts', () => {
    assert.deepEqual(clientMounts('/tmp/k'), [
      '--tmpfs',
      '/run',
      '--tmpfs',
      '/var/lib/dhcpcd',
      '--tmpfs',
      '/var/lib/dhcp',
      '--bind',
      '/tmp/k/resolv.conf:/etc/resolv.conf',
    ]);
  });

  it('reads bound, renewed and lost leases of each client', () => {
    assert.deepEqual(
      parseLeaseEvent('udhcpc', 'bound', { ip: '10.0.0.5', mask: '24', router: '10.0.0.1 10.0.0.2', lease: '20', dns: '10.0.0.53' }),
      { kind: 'bound', address: '10.0.0.5/24', gateway: '10.0.0.1', lease: 20, dns: ['10.0.0.53'] },
    );
    assert.deepEqual(parseLeaseEvent('udhcpc', 'deconfig', {}), { kind: 'lost' });
    // dhcpcd: new_subnet_cidr; dhclient: new_subnet_mask only.
    assert.deepEqual(
      parseLeaseEvent('dhcpcd', '', {
        reason: 'RENEW',
        new_ip_address: '192.168.1.7',
        new_subnet_cidr: '24',
        new_routers: '192.168.1.1',
        new_dhcp_lease_time: '20',
        new_domain_name_servers: '192.168.1.53',
        old_ip_address: '192.168.1.7',
      }),
      { kind: 'bound', address: '192.168.1.7/24', gateway: '192.168.1.1', lease: 20, dns: ['192.168.1.53'] },
    );
    assert.deepEqual(
      parseLeaseEvent('dhclient', '', {
        reason: 'BOUND',
        new_ip_address: '192.168.1.8',
        new_subnet_mask: '255.255.254.0',
        new_dhcp_lease_time: '600',
        old_ip_address: '192.168.1.9',
      }),
      { kind: 'bound', address: '192.168.1.8/23', lease: 600, old: '192.168.1.9' },
    );
    for (const reason of ['EXPIRE', 'RELEASE', 'STOPPED', 'NAK'])
      assert.deepEqual(parseLeaseEvent('dhclient', '', { reason }), { kind: 'lost' });
    assert.deepEqual(parseLeaseEvent('dhcpcd', '', { reason: 'PREINIT' }), { kind: 'other' });
  });
});
