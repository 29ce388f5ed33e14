import assert from 'node:assert/strict';
import { test } from 'node:test';
import { noteHostPort, publishNote, publishRules } from './publish.js';

test('published-port notes read back (the engine writes the same), others are not taken for one', () => {
  for (const p of [
    { proto: 'tcp', hostPort: 8080 },
    { hostIp: '127.0.0.1', proto: 'udp', hostPort: 53 },
  ] as const)
    assert.deepEqual(noteHostPort(publishNote(p)), p);
  assert.equal(publishNote({ hostIp: '10.0.0.1', proto: 'tcp', hostPort: 80 }), 'ip daddr 10.0.0.1 tcp dport 80');
  for (const other of ['', 'tcp dport', 'tcp dport x', 'sctp dport 80', 'ip daddr tcp dport 80', 'docker network 8e0147a6f45d'])
    assert.equal(noteHostPort(other), undefined, other);
});

test('each port: DNAT from outside and from the host, and the loopback masquerade', () => {
  const rules = publishRules('10.1.0.2', [{ proto: 'tcp', hostPort: 8085, port: 80 }]);
  assert.deepEqual(
    rules.map((r) => [r.chain, r.note]),
    [
      ['prerouting', 'tcp dport 8085'],
      ['output', 'tcp dport 8085'],
      ['postrouting', undefined],
    ],
  );
});
