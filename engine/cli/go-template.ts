// The subset of Go's text/template that scripts give `docker inspect -f` / `ps --format`: field paths
// ({{.NetworkSettings.IPAddress}}, {{.State.Pid}}, {{$v.HostPort}}), parenthesized calls with fields after them
// ({{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}), the functions json, index (map keys and
// array positions), len, join, upper, lower, println and printf (%s %v %d %q %t, widths), pipes
// ({{.Config.Cmd | json}}), {{range PIPE}}, {{range $v := PIPE}} and {{range $k, $v := PIPE}} (a map's entries in key order, as Go's; an array's items)
// with {{else}}, {{if PIPE}}…{{else}}…{{end}}, variables ($ is the document), and literal text with \n and \t as
// Go writes them in a shell. Anything else is refused naming the action.
import { TsnetError } from '../../common/errors.js';

type Node =
  { text: string } | { action: string } | { kind: 'range' | 'if'; pipe: string; vars: string[]; body: Node[]; alt: Node[] | undefined };

type Block = Extract<Node, { kind: string }>;

function fail(tpl: string, reason: string, fix = 'use field paths, json, index, len, range and if'): never {
  throw new TsnetError(`--format ${tpl}`, reason, fix);
}

/** `\n` and `\t` written literally in the template's text are newline and tab (as a shell hands Go them). */
const literal = (text: string) => text.replace(/\\n/g, '\n').replace(/\\t/g, '\t');

function parse(tpl: string): Node[] {
  const root: Node[] = [];
  const stack: { block: Block; inAlt: boolean }[] = [];
  const cur = () => {
    const top = stack[stack.length - 1];
    return top ? (top.inAlt ? top.block.alt! : top.block.body) : root;
  };
  const re = /\{\{(-?)\s*(.*?)\s*(-?)\}\}/gs;
  let last = 0;
  let trimNext = false;
  for (let m = re.exec(tpl); m; m = re.exec(tpl)) {
    let text = tpl.slice(last, m.index);
    if (trimNext) text = text.replace(/^\s+/, '');
    if (m[1]) text = text.replace(/\s+$/, '');
    if (text) cur().push({ text: literal(text) });
    last = re.lastIndex;
    trimNext = !!m[3];
    const a = m[2]!;
    const block = /^(range|if)\s+(.*)$/s.exec(a);
    if (block) {
      let pipe = block[2]!;
      let vars: string[] = [];
      const decl = /^(\$\w+)\s*(?:,\s*(\$\w+)\s*)?:=\s*(.*)$/s.exec(pipe);
      if (decl && block[1] === 'range') {
        vars = [decl[1]!, ...(decl[2] ? [decl[2]] : [])];
        pipe = decl[3]!;
      }
      const b: Block = { kind: block[1] as 'range' | 'if', pipe, vars, body: [], alt: undefined };
      cur().push(b);
      stack.push({ block: b, inAlt: false });
    } else if (a === 'else') {
      const top = stack[stack.length - 1];
      if (!top || top.inAlt) fail(tpl, '{{else}} outside {{if}} or {{range}}', 'check the template');
      top.block.alt = [];
      top.inAlt = true;
    } else if (a === 'end') {
      if (!stack.pop()) fail(tpl, '{{end}} without {{range}} or {{if}}', 'check the template');
    } else cur().push({ action: a });
  }
  let rest = tpl.slice(last);
  if (trimNext) rest = rest.replace(/^\s+/, '');
  if (rest) cur().push({ text: literal(rest) });
  if (stack.length) fail(tpl, `{{${stack[stack.length - 1]!.block.kind}}} without {{end}}`, 'check the template');
  return root;
}

type Scope = { dot: unknown; vars: Map<string, unknown> };

/** Tokens of an action: strings, numbers, parens, pipes, and words (fields, variables, function names). */
function tokenize(a: string, tpl: string): string[] {
  const out: string[] = [];
  const re = /\s*("(?:[^"\\]|\\.)*"|`[^`]*`|\(|\)|\||[^\s()|"`]+)/gy;
  let m: RegExpExecArray | null;
  let at = 0;
  while (at < a.length && (m = re.exec(a))) {
    out.push(m[1]!);
    at = re.lastIndex;
  }
  if (a.slice(at).trim()) fail(tpl, `cannot read '${a.slice(at).trim()}' in {{${a}}}`);
  return out;
}

function fieldsOf(v: unknown, path: string[], shown: string, tpl: string): unknown {
  for (const k of path) {
    if (v === null || typeof v !== 'object' || !(k in (v as object)))
      fail(tpl, `no field '${k}' in ${shown}`, 'see the JSON without --format for the fields');
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

/** A word as a value: .A.B, $v.A.B, $, ., "string", a number, true/false/nil. */
function operand(word: string, s: Scope, tpl: string): unknown {
  if (word === '.') return s.dot;
  if (word.startsWith('.')) return fieldsOf(s.dot, word.slice(1).split('.'), word, tpl);
  if (word.startsWith('$')) {
    const [name, ...path] = word.split('.');
    if (!s.vars.has(name!)) fail(tpl, `undefined variable ${name}`, 'declare it in {{range $k, $v := …}}');
    return fieldsOf(s.vars.get(name!), path, word, tpl);
  }
  if (word.startsWith('"')) return JSON.parse(word) as string;
  if (word.startsWith('`')) return word.slice(1, -1);
  if (/^-?\d+$/.test(word)) return Number(word);
  if (word === 'true' || word === 'false') return word === 'true';
  if (word === 'nil') return null;
  return fail(tpl, `'${word}' is not a field, variable or value`, 'write e.g. {{.State.Pid}}');
}

function index(v: unknown, key: unknown, tpl: string): unknown {
  if (Array.isArray(v)) {
    if (typeof key !== 'number' || key < 0 || key >= v.length) fail(tpl, `index ${String(key)} out of range`, 'check the array');
    return v[key];
  }
  if (v && typeof v === 'object') return (v as Record<string, unknown>)[String(key)];
  return fail(tpl, `cannot index ${show(v)}`, 'index takes a map or an array');
}

const FUNCS: Record<string, (tpl: string, ...a: unknown[]) => unknown> = {
  json: (_t, v) => JSON.stringify(v ?? null),
  index: (t, v, ...keys) => keys.reduce((x, k) => index(x, k, t), v),
  len: (t, v) =>
    Array.isArray(v) || typeof v === 'string' ? v.length : v && typeof v === 'object' ? Object.keys(v).length : fail(t, 'len of a scalar'),
  join: (_t, v, sep) => (Array.isArray(v) ? v.map(show).join(String(sep)) : show(v)),
  upper: (_t, v) => show(v).toUpperCase(),
  lower: (_t, v) => show(v).toLowerCase(),
  println: (_t, ...a) => `${a.map(show).join(' ')}\n`,
  printf: (t, fmt, ...a) => {
    let i = 0;
    return String(fmt).replace(/%([-+ 0#]*)(\d*)([svdqt%])/g, (_m, flags: string, width: string, verb: string) => {
      if (verb === '%') return '%';
      if (i >= a.length) return `%!${verb}(MISSING)`;
      const v = a[i++];
      const text = verb === 'q' ? JSON.stringify(show(v)) : verb === 'd' && typeof v !== 'number' ? fail(t, `%d of ${show(v)}`) : show(v);
      const w = Number(width || 0);
      return flags.includes('-') ? text.padEnd(w) : text.padStart(w);
    });
  },
};

/** One command: a value (with fields after a parenthesized one), or a function applied to its arguments. */
function command(toks: string[], s: Scope, tpl: string, piped: unknown[]): unknown {
  const args: unknown[] = [];
  let fn: string | undefined;
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t === '(') {
      let depth = 1;
      let j = i + 1;
      for (; j < toks.length && depth; j++) depth += toks[j] === '(' ? 1 : toks[j] === ')' ? -1 : 0;
      if (depth) fail(tpl, 'unclosed (', 'check the parentheses');
      let v = pipeline(toks.slice(i + 1, j - 1), s, tpl);
      i = j - 1;
      // (…).Field.Field
      while (toks[i + 1]?.startsWith('.') && toks[i + 1] !== '.') v = fieldsOf(v, toks[++i]!.slice(1).split('.'), toks[i]!, tpl);
      args.push(v);
    } else if (t === ')') fail(tpl, 'unopened )', 'check the parentheses');
    else if (i === 0 && /^[a-z]\w*$/.test(t) && !['true', 'false', 'nil'].includes(t)) {
      if (!FUNCS[t]) fail(tpl, `function '${t}' is not supported`);
      fn = t;
    } else args.push(operand(t, s, tpl));
  }
  args.push(...piped);
  if (fn) return FUNCS[fn]!(tpl, ...args);
  if (args.length !== 1) fail(tpl, `'${toks.join(' ')}' is not a field, a value or a function call`);
  return args[0];
}

function pipeline(toks: string[], s: Scope, tpl: string): unknown {
  const cmds: string[][] = [[]];
  let depth = 0;
  for (const t of toks) {
    depth += t === '(' ? 1 : t === ')' ? -1 : 0;
    if (t === '|' && depth === 0) cmds.push([]);
    else cmds[cmds.length - 1]!.push(t);
  }
  if (cmds.some((c) => !c.length)) fail(tpl, 'an empty command in a pipeline', 'check the template');
  let v: unknown[] = [];
  for (const c of cmds) v = [command(c, s, tpl, v)];
  return v[0];
}

function show(v: unknown): string {
  if (v === null || v === undefined) return '<no value>';
  if (Array.isArray(v)) return `[${v.map(show).join(' ')}]`;
  if (typeof v === 'object')
    return `map[${Object.keys(v as object)
      .sort()
      .map((k) => `${k}:${show((v as Record<string, unknown>)[k])}`)
      .join(' ')}]`;
  return String(v);
}

/** Go's truth: false, 0, nil, an empty string, array or map are false. */
function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (v && typeof v === 'object') return Object.keys(v).length > 0;
  return !!v;
}

function run(nodes: Node[], s: Scope, tpl: string): string {
  let out = '';
  for (const n of nodes) {
    if ('text' in n) out += n.text;
    else if ('action' in n) out += show(pipeline(tokenize(n.action, tpl), s, tpl));
    else {
      const v = pipeline(tokenize(n.pipe, tpl), s, tpl);
      if (n.kind === 'if') {
        out += truthy(v) ? run(n.body, s, tpl) : n.alt ? run(n.alt, s, tpl) : '';
        continue;
      }
      const entries: [unknown, unknown][] = Array.isArray(v)
        ? v.map((x, i) => [i, x])
        : v && typeof v === 'object'
          ? Object.keys(v)
              .sort()
              .map((k) => [k, (v as Record<string, unknown>)[k]])
          : [];
      if (!entries.length && n.alt) out += run(n.alt, s, tpl);
      for (const [k, x] of entries) {
        const vars = new Map(s.vars);
        if (n.vars.length === 1) vars.set(n.vars[0]!, x);
        if (n.vars.length === 2) vars.set(n.vars[0]!, k).set(n.vars[1]!, x);
        out += run(n.body, { dot: x, vars }, tpl);
      }
    }
  }
  return out;
}

/** Renders `tpl` against `value`; `\n` and `\t` written literally in the template are newline and tab. */
export function renderTemplate(tpl: string, value: unknown): string {
  return run(parse(tpl), { dot: value, vars: new Map([['$', value]]) }, tpl);
}

/**
 * `--format` over rows (ps, network ls): each row rendered; with Docker's `table` directive a header row first —
 * each field action's column name from `headers` (else the field in capitals) — and the tab-separated cells
 * aligned as Docker's tabwriter aligns them (at least 10 wide, 3 spaces apart).
 */
export function renderRows(tpl: string, rows: unknown[], headers: Record<string, string> = {}): string[] {
  const table = /^table\s*/.exec(tpl);
  if (!table) return rows.map((r) => renderTemplate(tpl, r));
  const body =
    tpl.slice(table[0].length) ||
    Object.keys(headers)
      .map((k) => `{{.${k}}}`)
      .join('\t');
  const header = literal(body).replace(/\{\{-?\s*\.(\w+)\s*-?\}\}/g, (_m, f: string) => headers[f] ?? f.toUpperCase());
  if (/\{\{/.test(header)) fail(tpl, 'a table header for actions other than {{.Field}}', "use plain field actions after 'table'");
  const lines = [header, ...rows.map((r) => renderTemplate(body, r))].map((l) => l.split('\t'));
  const widths: number[] = [];
  for (const cells of lines) cells.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return lines.map((cells) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(Math.max(widths[i]! + 3, 10))))
      .join('')
      .trimEnd(),
  );
}
