import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attachmentsOf } from './inspect.js';
import type { AttachmentRecord } from '../../plugins/attach/registry.js';
import type { Container } from './model.js';

test("inspect shows a running container's attachments, found by netns path or name", () => {
  const c = {
    config: { id: 'b'.repeat(64), name: 'web', ports: [] },
    state: { status: 'running', pid: 4242, network: { netnsPath: '/run/netns/tsnet-bbbb', ownsNetns: true, networks: {} } },
  } as unknown as Container;
  const rec = (over: Partial<AttachmentRecord>): AttachmentRecord => ({
    version: 1,
    container: 'x',
    label: 'x',
    netnsPath: '/run/netns/other',
    netns: 'net:[1]',
    ifname: 'eth1',
    ifindex: 5,
    mac: '02:00:00:00:00:01',
    mode: 'bridge',
    hostIf: 'br0',
    bridge: 'br0',
    hostVeth: 'tsa1',
    createdBridge: false,
    addresses: ['10.1.1.13/24'],
    gateway: '10.1.1.1',
    routes: ['default via 10.1.1.1'],
    created: '',
    ...over,
  });
  const out = attachmentsOf(c, [
    rec({ netnsPath: '/run/netns/tsnet-bbbb' }),
    rec({ container: 'web', ifname: 'eth2', netnsPath: '/proc/4242/ns/net' }),
    rec({ container: 'db' }),
  ]);
  assert.deepEqual(
    out.map((a) => a.InterfaceName),
    ['eth1', 'eth2'],
  );
  assert.equal(out[0]!.Bridge, 'br0');
  assert.deepEqual(out[0]!.Addresses, ['10.1.1.13/24']);
  assert.deepEqual(attachmentsOf({ ...c, state: { status: 'exited' } } as unknown as Container, [rec({ container: 'web' })]), []);
});
