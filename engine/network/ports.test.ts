import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TsnetError } from '../../common/errors.js';
import { formatPort, hostPortOfNote, hostPortsClash, parsePort, portNote, portsOwner, portsOwnerContainer } from './ports.js';

test('-p parsing', () => {
  assert.deepEqual(parsePort('8080:80'), { hostPort: 8080, containerPort: 80, protocol: 'tcp' });
  assert.deepEqual(parsePort('53:53/udp'), { hostPort: 53, containerPort: 53, protocol: 'udp' });
  assert.deepEqual(parsePort('127.0.0.1:8080:80'), { hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' });
  assert.equal(formatPort(parsePort('8080:80')), '0.0.0.0:8080->80/tcp');
  for (const bad of ['80', '0:80', '8080:70000', '8080:80/sctp', 'x:80', '1.2.3:1:2']) assert.throws(() => parsePort(bad), TsnetError, bad);
});

test('published-port rules: the note reads back, the owner names the container', () => {
  for (const p of [
    { protocol: 'tcp', hostPort: 8080 },
    { hostIp: '127.0.0.1', protocol: 'udp', hostPort: 53 },
  ] as const) {
    assert.deepEqual(hostPortOfNote(portNote(p)), p);
  }
  assert.equal(portNote({ hostIp: '10.0.0.1', protocol: 'tcp', hostPort: 80 }), 'ip daddr 10.0.0.1 tcp dport 80');
  for (const other of ['', 'tcp dport', 'tcp dport x', 'sctp dport 80', 'ip daddr tcp dport 80', 'tcp dport 80 extra']) {
    assert.equal(hostPortOfNote(other), undefined, other);
  }
  const id = 'a'.repeat(64);
  assert.equal(portsOwnerContainer(portsOwner(id, 'eth1')), id);
  assert.equal(portsOwnerContainer(`bridge:net:${id.slice(0, 12)}:eth0:0123`), undefined);
});

test('host ports clash on the same protocol and port when their addresses overlap', () => {
  const any = { protocol: 'tcp', hostPort: 80 } as const;
  const lo = { ...any, hostIp: '127.0.0.1' };
  assert.ok(hostPortsClash(any, any));
  assert.ok(hostPortsClash(any, lo));
  assert.ok(hostPortsClash(lo, any));
  assert.ok(hostPortsClash(lo, { ...lo }));
  assert.ok(!hostPortsClash(lo, { ...lo, hostIp: '127.0.0.2' }));
  assert.ok(!hostPortsClash(any, { ...any, protocol: 'udp' }));
  assert.ok(!hostPortsClash(any, { ...any, hostPort: 8080 }));
});
