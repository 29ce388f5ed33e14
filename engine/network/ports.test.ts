import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TsnetError } from '../../common/errors.js';
import { dualStackPorts, formatPort, parsePort, parsePortSpec, portsOwner, portsOwnerContainer } from './ports.js';

test('-p parsing', () => {
  assert.deepEqual(parsePort('8080:80'), { hostPort: 8080, containerPort: 80, protocol: 'tcp' });
  assert.deepEqual(parsePort('53:53/udp'), { hostPort: 53, containerPort: 53, protocol: 'udp' });
  assert.deepEqual(parsePort('127.0.0.1:8080:80'), { hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' });
  assert.equal(formatPort(parsePort('8080:80')), '0.0.0.0:8080->80/tcp');
  for (const bad of ['0:80', '8080:70000', '8080:80/sctp', 'x:80', '1.2.3:1:2', '8080-8082:80-81', '81-80', 'a:b:c:d'])
    assert.throws(() => parsePortSpec(bad), TsnetError, bad);
});

test('-p as Docker reads it: no host port (a free one), ranges, an address with an empty port', () => {
  assert.deepEqual(parsePortSpec('80'), [{ hostPort: 0, containerPort: 80, protocol: 'tcp' }]);
  assert.deepEqual(parsePortSpec('53/udp'), [{ hostPort: 0, containerPort: 53, protocol: 'udp' }]);
  assert.deepEqual(parsePortSpec('127.0.0.1::80'), [{ hostIp: '127.0.0.1', hostPort: 0, containerPort: 80, protocol: 'tcp' }]);
  assert.deepEqual(parsePortSpec('0.0.0.0:8080:80'), [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
  assert.deepEqual(parsePortSpec('8080-8081:80-81'), [
    { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
    { hostPort: 8081, containerPort: 81, protocol: 'tcp' },
  ]);
  assert.deepEqual(
    parsePortSpec('80-81/udp').map((p) => [p.hostPort, p.containerPort, p.protocol]),
    [
      [0, 80, 'udp'],
      [0, 81, 'udp'],
    ],
  );
  assert.throws(() => parsePort('80-81'), TsnetError);
  // a host range for one container port: any free port of it, as Docker takes it; other length mismatches refused
  assert.deepEqual(parsePortSpec('127.0.0.1:8000-8010:80/udp'), [
    { hostIp: '127.0.0.1', hostPort: 8000, hostPortLast: 8010, containerPort: 80, protocol: 'udp' },
  ]);
  assert.throws(() => parsePort('8000-8010:80'), TsnetError);
  assert.throws(() => parsePortSpec('8000-8010:80-81'), /differ in length/);
  assert.throws(() => parsePortSpec('8000:80-81'), /differ in length/);
});

test("published-port rules' owner names the container", () => {
  const id = 'a'.repeat(64);
  assert.equal(portsOwnerContainer(portsOwner(id, 'eth1')), id);
  assert.equal(portsOwnerContainer(`bridge:net:${id.slice(0, 12)}:eth0:0123`), undefined);
});

test('IPv6 host addresses: [::]:P:C and [ADDR]:P:C', () => {
  assert.deepEqual(parsePortSpec('[::]:8080:80'), [{ hostIp: '::', hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
  assert.deepEqual(parsePortSpec('[fd00:0::1]::53/udp'), [{ hostIp: 'fd00::1', hostPort: 0, containerPort: 53, protocol: 'udp' }]);
  for (const bad of ['[::]:80', '[10.0.0.1]:80:80', '[::1]8080:80', '::1:8080:80', '[nope]:1:2'])
    assert.throws(() => parsePortSpec(bad), TsnetError, bad);
  assert.equal(formatPort(parsePort('[::]:8080:80')), ':::8080->80/tcp', "docker 20.10's spelling");
});

test('dual stack: a port with no host IP is published on IPv6 too; an IPv6 host IP needs IPv6', () => {
  const ports = [...parsePortSpec('8080:80'), ...parsePortSpec('127.0.0.1:81:81'), ...parsePortSpec('[::]:82:82')];
  assert.deepEqual(dualStackPorts(ports, true, 'n').map(formatPort), [
    '0.0.0.0:8080->80/tcp',
    ':::8080->80/tcp',
    '127.0.0.1:81->81/tcp',
    ':::82->82/tcp',
  ]);
  assert.deepEqual(dualStackPorts(ports.slice(0, 2), false, 'n'), ports.slice(0, 2));
  assert.throws(() => dualStackPorts(ports, false, 'n'), /network "n" has no IPv6/);
});
