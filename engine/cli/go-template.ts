// The subset of Go's text/template that scripts give `docker inspect -f` / `ps --format`: field paths
// ({{.NetworkSettings.IPAddress}}, {{.State.Pid}}), {{json .X}}, {{range .Map}}…{{end}} (over a map's values
// or an array's items, with {{.}} the item), {{index .Map "key"}}, and literal text with \n and \t as Go
// writes them in a shell. Anything else is refused naming the action.
import { TsnetError } from '../../common/errors.js';

type Node = { text: string } | { action: string } | { range: string; body: Node[] };

function parse(tpl: string): Node[] {
  const root: Node[] = [];
  const stack: { range: string; body: Node[] }[] = [];
  const cur = () => (stack.length ? stack[stack.length - 1]!.body : root);
  const re = /\{\{-?\s*(.*?)\s*-?\}\}/gs;
  let last = 0;
  for (let m = re.exec(tpl); m; m = re.exec(tpl)) {
    if (m.index > last) cur().push({ text: tpl.slice(last, m.index) });
    last = re.lastIndex;
    const a = m[1]!;
    if (a.startsWith('range ')) {
      const r = { range: a.slice(6).trim(), body: [] as Node[] };
      cur().push(r);
      stack.push(r);
    } else if (a === 'end') {
      if (!stack.pop()) throw new TsnetError(`--format ${tpl}`, '{{end}} without {{range}}', 'check the template');
    } else cur().push({ action: a });
  }
  if (last < tpl.length) cur().push({ text: tpl.slice(last) });
  if (stack.length) throw new TsnetError(`--format ${tpl}`, '{{range}} without {{end}}', 'check the template');
  return root;
}

function field(dot: unknown, path: string, tpl: string): unknown {
  if (path === '.') return dot;
  if (!path.startsWith('.')) throw new TsnetError(`--format ${tpl}`, `'${path}' is not a field path`, 'write e.g. {{.State.Pid}}');
  let v: unknown = dot;
  for (const k of path.slice(1).split('.')) {
    if (v === null || typeof v !== 'object' || !(k in (v as object)))
      throw new TsnetError(`--format ${tpl}`, `no field '${k}' in ${path}`, 'see the JSON without --format for the fields');
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

function show(v: unknown): string {
  if (v === null || v === undefined) return '<no value>';
  if (Array.isArray(v)) return `[${v.map(show).join(' ')}]`;
  if (typeof v === 'object')
    return `map[${Object.entries(v as object)
      .map(([k, x]) => `${k}:${show(x)}`)
      .join(' ')}]`;
  return String(v);
}

function evalAction(dot: unknown, a: string, tpl: string): string {
  const words = a.match(/"[^"]*"|\S+/g) ?? [];
  if (words[0] === 'json' && words.length === 2) return JSON.stringify(field(dot, words[1]!, tpl));
  if (words[0] === 'index' && words.length === 3) {
    const m = field(dot, words[1]!, tpl) as Record<string, unknown> | undefined;
    return show(m?.[words[2]!.replace(/^"|"$/g, '')]);
  }
  if (words.length === 1) return show(field(dot, words[0]!, tpl));
  throw new TsnetError(`--format ${tpl}`, `'{{${a}}}' is not supported`, 'use field paths, json, index and range');
}

function run(nodes: Node[], dot: unknown, tpl: string): string {
  let out = '';
  for (const n of nodes) {
    if ('text' in n) out += n.text;
    else if ('action' in n) out += evalAction(dot, n.action, tpl);
    else {
      const over = field(dot, n.range, tpl);
      const items = Array.isArray(over) ? over : over && typeof over === 'object' ? Object.values(over) : [];
      for (const item of items) out += run(n.body, item, tpl);
    }
  }
  return out;
}

/** Renders `tpl` against `value`; `\n` and `\t` written literally in the template are newline and tab. */
export function renderTemplate(tpl: string, value: unknown): string {
  return run(parse(tpl), value, tpl).replace(/\\n/g, '\n').replace(/\\t/g, '\t');
}
