// pipework's argument syntax: what is accepted, and the message for each mistake.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatAttachArgs, parseAttachArgs } from './args.js';
import { PluginError } from '../shared/errors.js';
import { parseRouteWords } from '../route/route.js';
import { recheck } from './save-file.js';
import { parseDhcpForm } from './dhcp.js';

function fails(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof PluginError, `expected PluginError, got ${String(e)}`);
    assert.match(e.message, re);
    return true;
  });
}

describe('parseAttachArgs', () => {
  it('takes pipework syntax with gateway, MAC and the default ifname eth1', () => {
    assert.deepEqual(parseAttachArgs(['br0', 'c1', '192.168.115.10/24@192.168.115.2', '02:42:c0:a8:73:0a']), {
      hostIf: 'br0',
      container: 'c1',
      ifname: 'eth1',
      address: '192.168.115.10/24',
      gateway: '192.168.115.2',
      mac: '02:42:c0:a8:73:0a',
    });
  });
  it('takes -i, MAC@VLAN, @VLAN alone, and dhcp', () => {
    const r = parseAttachArgs(['eth2', '1234', 'dhcp', '@12'], { ifname: 'net0' });
    assert.deepEqual(r, { hostIf: 'eth2', container: '1234', ifname: 'net0', dhcp: true, vlan: 12 });
    assert.equal(parseAttachArgs(['br0', 'c', '10.0.0.5/8', '02:00:00:00:00:01@4094']).vlan, 4094);
  });
  it('accepts a gateway outside the subnet (an on-link route is added) and IPv6', () => {
    assert.equal(parseAttachArgs(['br0', 'c', '10.1.2.3/32@10.1.0.1']).gateway, '10.1.0.1');
    assert.equal(parseAttachArgs(['br0', 'c', 'fd00::5/64@fd00::1']).address, 'fd00::5/64');
  });
  it('refuses an address without a prefix with a hint', () => {
    fails(() => parseAttachArgs(['br0', 'c', '192.168.115.10']), /no prefix length.*did you mean 192\.168\.115\.10\/24\?/);
    fails(() => parseAttachArgs(['br0', 'c', 'fd00::5@fd00::1']), /did you mean fd00::5\/64\?/);
  });
  it('refuses bad CIDRs, network and broadcast addresses', () => {
    fails(() => parseAttachArgs(['br0', 'c', '192.168.115.300/24']), /not an IPv4 or IPv6 address/);
    fails(() => parseAttachArgs(['br0', 'c', '10.0.0.1/33']), /prefix length 33 is longer than 32/);
    fails(() => parseAttachArgs(['br0', 'c', '10.0.0.1/x']), /not a number/);
    fails(() => parseAttachArgs(['br0', 'c', '10.0.0.0/24']), /network address of 10\.0\.0\.0\/24.*10\.0\.0\.1\/24/);
    fails(() => parseAttachArgs(['br0', 'c', '10.0.0.255/24']), /broadcast address/);
  });
  it('refuses bad gateways, MACs and VLANs', () => {
    fails(() => parseAttachArgs(['br0', 'c', '10.0.0.5/24@']), /no gateway after it/);
    fails(() => parseAttachArgs(['br0', 'c', '10.0.0.5/24@10.0.0.5']), /container's own address/);
    fails(() => parseAttachArgs(['br0', 'c', '10.0.0.5/24@fd00::1']), /IPv6 but the address .* is IPv4/);
    fails(() => parseAttachArgs(['br0', 'c', '10.0.0.5/24@gw']), /gateway "gw"/);
    fails(() => parseAttachArgs(['br0', 'c', '10.0.0.5/24', '01:00:5e:00:00:01']), /multicast/);
    fails(() => parseAttachArgs(['br0', 'c', '10.0.0.5/24', 'zz:00']), /not a MAC address/);
    fails(() => parseAttachArgs(['br0', 'c', '10.0.0.5/24', '@4095']), /VLAN "4095".*1 to 4094/);
  });
  it('refuses missing and extra words, bad interface names and conflicting options', () => {
    fails(() => parseAttachArgs(['br0']), /missing <container>, <ip>\/<len> or dhcp/);
    fails(() => parseAttachArgs(['br0', 'c', '10.0.0.5/24', '02:00:00:00:00:01', 'x']), /unexpected argument "x"/);
    fails(() => parseAttachArgs(['a-name-longer-than-15', 'c', '10.0.0.5/24']), /host interface .*not a valid interface name/);
    fails(() => parseAttachArgs(['br0', 'c', '10.0.0.5/24'], { ifname: 'bad/name' }), /container interface/);
    fails(() => parseAttachArgs(['eth0', 'c', '10.0.0.5/24'], { takeUplink: true, uplink: 'eth1' }), /both name the NIC/);
    fails(() => parseAttachArgs(['br0', 'c', 'dhcpx']), /not an IP address/);
  });
  it('round-trips through the --save form', () => {
    const r = parseAttachArgs(['eth0', 'c', '10.0.0.5/24@10.0.0.1', '02:00:00:00:00:01'], {
      takeUplink: true,
      bridge: 'br9',
      ifname: 'e9',
      hostIfname: 'vx',
      force: true,
    });
    assert.equal(r.force, true);
    assert.deepEqual(recheck(JSON.parse(JSON.stringify(r))), r);
    assert.deepEqual(formatAttachArgs(r), [
      'eth0',
      '-i',
      'e9',
      '-l',
      'vx',
      '--take-uplink',
      '--bridge',
      'br9',
      '--force',
      'c',
      '10.0.0.5/24@10.0.0.1',
      '02:00:00:00:00:01',
    ]);
  });
});

describe('--direct-phys', () => {
  it('moves the NIC itself: round-trips through --save, and refuses what only a bridge or a veth has', () => {
    const r = parseAttachArgs(['enp3s0', 'c', '10.0.0.5/24@10.0.0.1', 'U:web'], { directPhys: true, ifname: 'eth2', force: true });
    assert.equal(r.directPhys, true);
    assert.deepEqual(recheck(JSON.parse(JSON.stringify(r))), r);
    assert.deepEqual(formatAttachArgs(r).slice(0, 5), ['enp3s0', '-i', 'eth2', '--force', '--direct-phys']);
    fails(() => parseAttachArgs(['eth1', 'c', '10.0.0.5/24'], { directPhys: true, takeUplink: true }), /--direct-phys with --take-uplink/);
    fails(() => parseAttachArgs(['eth1', 'c', '10.0.0.5/24'], { directPhys: true, bridge: 'br1' }), /--direct-phys with --bridge/);
    fails(() => parseAttachArgs(['eth1', 'c', '10.0.0.5/24'], { directPhys: true, hostIfname: 'vx' }), /--direct-phys with -l/);
    fails(() => parseAttachArgs(['eth1', 'c', '10.0.0.5/24', '@12'], { directPhys: true }), /@12 with --direct-phys.*eth1\.12/s);
  });
});

describe('parseRouteWords', () => {
  it('takes ip-route words', () => {
    assert.deepEqual(parseRouteWords(['192.168.0.0/16', 'via', '192.168.115.2', 'dev', 'eth1', 'metric', '5', 'table', '100']), {
      dst: '192.168.0.0/16',
      via: '192.168.115.2',
      dev: 'eth1',
      metric: 5,
      table: 100,
    });
    assert.deepEqual(parseRouteWords(['default', 'via', '10.0.0.1']), { dst: 'default', via: '10.0.0.1' });
  });
  it('explains each mistake', () => {
    fails(() => parseRouteWords(['192.168.1.0/16', 'via', '10.0.0.1']), /host bits set.*did you mean 192\.168\.0\.0\/16\?/);
    fails(() => parseRouteWords(['192.168.0.0', 'via', '10.0.0.1']), /no prefix length/);
    fails(() => parseRouteWords(['nonsense', 'via', '10.0.0.1']), /not a CIDR/);
    fails(() => parseRouteWords(['10.0.0.0/8', 'via']), /"via" needs a value/);
    fails(() => parseRouteWords(['10.0.0.0/8', 'via', 'fd00::1']), /IPv6 but the destination/);
    fails(() => parseRouteWords(['10.0.0.0/8', 'metric', '-1', 'via', '1.2.3.4']), /metric/);
    fails(() => parseRouteWords(['10.0.0.0/8', 'gateway', '1.2.3.4']), /unexpected word "gateway"/);
    fails(() => parseRouteWords(['10.0.0.0/8'], { needTarget: true }), /needs "via <gw>" or "dev <ifname>"/);
  });
});

describe("pipework's DHCP forms", () => {
  it('takes dhcp:OPTIONS, udhcpc, udhcpc-f, dhclient, dhclient-f, dhcpcd, dhcpcd-f, and replays them', () => {
    for (const form of ['dhcp', 'dhcp:-O 42', 'udhcpc', 'udhcpc-f', 'udhcpc:-r 10.0.0.9', 'dhclient', 'dhclient-f', 'dhcpcd', 'dhcpcd-f']) {
      const r = parseAttachArgs(['br0', 'c', form]);
      assert.equal(r.dhcp, true, form);
      assert.equal(r.dhcpForm, form === 'dhcp' ? undefined : form);
      assert.deepEqual(recheck(parseAttachArgs(formatAttachArgs(r).filter((w, i, a) => w !== '-i' && a[i - 1] !== '-i'))), r);
    }
    assert.deepEqual(parseDhcpForm('udhcpc-f:-O 42  -r 10.0.0.9'), {
      client: 'udhcpc',
      foreground: true,
      options: ['-O', '42', '-r', '10.0.0.9'],
    });
    assert.deepEqual(parseDhcpForm('dhcp'), { client: 'dhcp', foreground: false, options: [] });
    assert.equal(parseDhcpForm('dhcpd'), undefined);
  });
});

describe("pipework's other forms", () => {
  it('U:<string> MACs, 0/0, several addresses, -a 4|6', () => {
    const u = parseAttachArgs(['br0', 'c', '10.1.1.13/24', 'U:web1@12']);
    assert.match(u.mac!, /^02(:[0-9a-f]{2}){5}$/);
    assert.equal(u.vlan, 12);
    assert.equal(u.mac, parseAttachArgs(['br0', 'c', '10.1.1.13/24', 'U:web1']).mac, 'the same string, the same MAC');
    assert.notEqual(u.mac, parseAttachArgs(['br0', 'c', '10.1.1.13/24', 'U:web2']).mac);
    assert.deepEqual(parseAttachArgs(['br0', 'c', '0/0']), { hostIf: 'br0', container: 'c', ifname: 'eth1', linkOnly: true });
    const two = parseAttachArgs(['br0', 'c', '10.1.1.13/24@10.1.1.1,fd00::13/64@fd00::1']);
    assert.equal(two.address, '10.1.1.13/24');
    assert.equal(two.gateway, '10.1.1.1');
    assert.deepEqual(two.more, [{ address: 'fd00::13/64', gateway: 'fd00::1' }]);
    assert.deepEqual(recheck(two), two);
    assert.equal(parseAttachArgs(['br0', 'c', 'fd00::13/64'], { family: '6' }).family, 6);
    fails(() => parseAttachArgs(['br0', 'c', '10.1.1.13/24'], { family: '6' }), /is IPv4, but -a 6 was given/);
    fails(() => parseAttachArgs(['br0', 'c', '10.1.1.13/24'], { family: '5' }), /not an address family/);
    fails(() => parseAttachArgs(['br0', 'c', 'dhcp'], { family: '6' }), /DHCPv4 clients only/);
    fails(() => parseAttachArgs(['br0', 'c', '10.1.1.13/24,10.1.1.13/16']), /given twice/);
    fails(() => parseAttachArgs(['br0', 'c', '10.1.1.13/24@10.1.1.1,10.1.2.13/24@10.1.2.1']), /second IPv4 gateway/);
    fails(() => parseAttachArgs(['br0', 'c', '10.1.1.13/24,']), /empty element/);
    fails(() => parseAttachArgs(['br0', 'c', '10.1.1.13/24', 'U:']), /no string after "U:"/);
  });
});
