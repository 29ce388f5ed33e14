import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TsnetError } from '../../common/errors.js';
import { renderTemplate } from './go-template.js';

test('the Go-template subset scripts give docker inspect -f', () => {
  const doc = {
    State: { Pid: 42, Running: true },
    NetworkSettings: { IPAddress: '10.0.0.2', Networks: { a: { IPAddress: '10.1.0.2' }, b: { IPAddress: '10.2.0.2' } } },
    Args: ['-c', 'x'],
  };
  assert.equal(renderTemplate('{{.State.Pid}}', doc), '42');
  assert.equal(renderTemplate('{{ .NetworkSettings.IPAddress }}', doc), '10.0.0.2');
  assert.equal(renderTemplate('{{json .State}}', doc), '{"Pid":42,"Running":true}');
  assert.equal(renderTemplate('{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}', doc), '10.1.0.2 10.2.0.2 ');
  assert.equal(renderTemplate('{{index .NetworkSettings.Networks "b"}}', doc), 'map[IPAddress:10.2.0.2]');
  assert.equal(renderTemplate('pid={{.State.Pid}}\\trun={{.State.Running}}', doc), 'pid=42\trun=true');
  assert.equal(renderTemplate('{{.Args}}', doc), '[-c x]');
  for (const bad of ['{{.Nope}}', '{{range .Args}}', '{{end}}', '{{printf "%s" .State}}'])
    assert.throws(() => renderTemplate(bad, doc), TsnetError, bad);
});
