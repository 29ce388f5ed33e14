import assert from 'node:assert/strict';
import { test } from 'node:test';
import { portLabel } from './graph.js';

test('published ports in the picture: host IP when given, an IPv6 one in brackets', () => {
  assert.equal(portLabel({ hostPort: 8080, containerPort: 80, protocol: 'tcp' }), '8080→80/tcp');
  assert.equal(portLabel({ hostIp: '127.0.0.1', hostPort: 53, containerPort: 53, protocol: 'udp' }), '127.0.0.1:53→53/udp');
  assert.equal(portLabel({ hostIp: '::', hostPort: 8080, containerPort: 80, protocol: 'tcp' }), '[::]:8080→80/tcp');
  assert.equal(portLabel({ hostIp: 'fd00::1', hostPort: 8080, containerPort: 80, protocol: 'tcp' }), '[fd00::1]:8080→80/tcp');
});
