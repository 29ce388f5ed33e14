import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Attachment } from '../network/driver.js';
import { applyDnsOverrides, hostsFile, resolvConf } from './etc-files.js';

const servers = (...s: string[]) => ({ servers: s, search: [], options: [] });

test('/etc/hosts and resolv.conf', () => {
  const att: Attachment = {
    netnsPath: '/run/netns/x',
    ownsNetns: true,
    loUp: true,
    ports: [],
    networks: { bridge: { ip: '172.17.0.2', prefixLen: 16, gateway: '172.17.0.1', mac: '02:42:ac:11:00:02', iface: 'eth0' } },
  };
  assert.match(hostsFile('web', att), /^172\.17\.0\.2\tweb$/m);
  assert.match(hostsFile('web', { ...att, networks: {} }), /^127\.0\.1\.1\tweb$/m);
  assert.equal(resolvConf(att, 'nameserver 127.0.0.53\nsearch lan\n'), 'search lan\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n');
  assert.equal(resolvConf(att, 'nameserver 10.0.0.1\n'), 'nameserver 10.0.0.1\n');
  assert.equal(resolvConf({ ...att, netnsPath: 'host' }, 'nameserver 127.0.0.53\n'), 'nameserver 127.0.0.53\n');
  assert.equal(resolvConf({ ...att, dns: { nameservers: ['1.1.1.1'], search: ['a'] } }, ''), 'nameserver 1.1.1.1\nsearch a\n');
});

test('--dns replaces the nameservers (the network resolver or the host), keeping search and options', () => {
  const att: Attachment = { netnsPath: '/run/netns/x', ownsNetns: true, loUp: true, ports: [], networks: {} };
  const onDnsNet = { ...att, dns: { nameservers: ['10.1.0.1'], search: ['dns.tsnet'] } };
  assert.equal(applyDnsOverrides(resolvConf(onDnsNet, ''), servers('192.0.2.53')), 'nameserver 192.0.2.53\nsearch dns.tsnet\n');
  assert.equal(
    applyDnsOverrides(resolvConf(att, 'nameserver 127.0.0.53\nsearch lan\noptions edns0\n'), servers('192.0.2.53', '192.0.2.54')),
    'nameserver 192.0.2.53\nnameserver 192.0.2.54\nsearch lan\noptions edns0\n',
  );
  assert.equal(resolvConf(onDnsNet, ''), 'nameserver 10.1.0.1\nsearch dns.tsnet\n', 'without --dns: the network resolver');
});
