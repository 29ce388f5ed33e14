import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TsnetError } from '../../common/errors.js';
import { renderRows, renderTemplate } from './go-template.js';

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
  for (const bad of ['{{.Nope}}', '{{range .Args}}', '{{end}}', '{{printf "%d" .NetworkSettings.IPAddress}}'])
    assert.throws(() => renderTemplate(bad, doc), TsnetError, bad);
});

test("what Docker's docs and scripts write: parenthesized index, range with variables, if, pipes, len", () => {
  const doc = {
    Name: '/web',
    State: { Running: false, Pid: 0 },
    Config: { Cmd: ['sh', '-c', 'x'], Env: [] },
    NetworkSettings: {
      Ports: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }], '53/udp': [{ HostIp: '::', HostPort: '5353' }] },
      Networks: { web: { IPAddress: '10.1.0.2', GlobalIPv6Address: 'fd00::2' } },
    },
  };
  const r = (t: string) => renderTemplate(t, doc);
  assert.equal(r('{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}'), '8080');
  assert.equal(r('{{(index .NetworkSettings.Networks "web").GlobalIPv6Address}}'), 'fd00::2');
  assert.equal(
    r('{{range $p, $conf := .NetworkSettings.Ports}} {{$p}} -> {{(index $conf 0).HostPort}} {{end}}'),
    ' 53/udp -> 5353  80/tcp -> 8080 ',
    'map entries in key order, as Go ranges over a map',
  );
  assert.equal(r('{{range $n, $e := .NetworkSettings.Networks}}{{$n}}={{$e.IPAddress}}{{end}}'), 'web=10.1.0.2');
  assert.equal(r('{{if .State.Running}}up{{else}}down{{end}}'), 'down');
  assert.equal(r('{{range .Config.Env}}{{.}}{{else}}none{{end}}'), 'none');
  assert.equal(r('{{.Config.Cmd | json}}'), '["sh","-c","x"]');
  assert.equal(r('{{json (index .NetworkSettings.Ports "80/tcp")}}'), '[{"HostIp":"0.0.0.0","HostPort":"8080"}]');
  assert.equal(r('{{len .NetworkSettings.Ports}} {{join .Config.Cmd ","}} {{upper $.Name}}'), '2 sh,-c,x /WEB');
  assert.equal(r('x  {{- .Name -}}  y'), 'x/weby', 'trim markers');
  assert.equal(r('{{printf "%s:%d %-6s|%q" .Name 42 "ab" .Name}}'), '/web:42 ab    |"/web"');
  for (const bad of ['{{(index .Config.Cmd 9)}}', '{{$nope}}', '{{else}}', '{{if .Name}}', '{{(.Name}}', '{{.Name .Name}}'])
    assert.throws(() => r(bad), TsnetError, bad);
});

test("--format 'table …': a header row and aligned columns, as Docker's tabwriter", () => {
  const rows = [
    { ID: 'abc', Names: 'web', Ports: '0.0.0.0:8080->80/tcp' },
    { ID: 'defdefdefdef', Names: 'db', Ports: '' },
  ];
  assert.deepEqual(renderRows('table {{.ID}}\\t{{.Names}}\\t{{.Ports}}', rows, { ID: 'CONTAINER ID', Names: 'NAMES' }), [
    'CONTAINER ID   NAMES     PORTS',
    'abc            web       0.0.0.0:8080->80/tcp',
    'defdefdefdef   db',
  ]);
  assert.deepEqual(renderRows('{{.Names}}', rows), ['web', 'db'], 'no table: one rendered line per row');
  assert.throws(() => renderRows('table {{json .ID}}', rows), TsnetError);
});
