// `tsnet ps`: the table and the --json rows.
import { shortId } from '../ids.js';
import { formatPort } from '../network/ports.js';
import { TsnetError } from '../../common/errors.js';
import type { Container } from './model.js';

/**
 * A duration as Docker words it (go-units' HumanDuration, which `docker ps` uses for Status and CREATED):
 * "Less than a second", "1 second", "5 seconds", "About a minute", "3 minutes", "About an hour", "5 hours",
 * "3 days", "2 weeks", "3 months", "2 years".
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(ms / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(ms / 3_600_000 / 24 / 365)} years`;
}

export function ago(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '';
  return `${humanDuration(Math.max(0, now - Date.parse(iso)))} ago`;
}

export function statusText(c: Container, now = Date.now()): string {
  const st = c.state;
  if (st.status === 'running') return st.startedAt ? `Up ${humanDuration(Math.max(0, now - Date.parse(st.startedAt)))}` : 'Up';
  if (st.status === 'exited') return `Exited (${st.exitCode ?? -1}) ${ago(st.finishedAt, now)}${st.oomKilled ? ' (OOM killed)' : ''}`;
  return st.status[0].toUpperCase() + st.status.slice(1);
}

export function psRow(c: Container) {
  return {
    Id: c.config.id,
    ShortId: shortId(c.config.id),
    Name: c.config.name,
    Image: c.config.image,
    Command: c.config.cmd.join(' '),
    Created: c.config.created,
    State: c.state.status,
    Status: statusText(c),
    ExitCode: c.state.exitCode ?? null,
    Pid: c.state.status === 'running' ? (c.state.pid ?? null) : null,
    Ports: c.state.status === 'running' ? c.config.ports.map(formatPort).join(', ') : '',
    Networks: Object.keys(c.state.network?.networks ?? {}).join(',') || c.config.net,
  };
}

export function table(rows: string[][]): string {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i] + 3)))
        .join('')
        .trimEnd(),
    )
    .join('\n');
}

export function psTable(cs: Container[]): string {
  const rows = [['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES']];
  for (const c of cs) {
    const r = psRow(c);
    const cmd = r.Command.length > 20 ? `${r.Command.slice(0, 19)}…` : r.Command;
    rows.push([r.ShortId, r.Image, `"${cmd}"`, ago(r.Created), r.Status, r.Ports, r.Name]);
  }
  return table(rows);
}

const STATUSES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];
const FILTER_KEYS = ['id', 'name', 'status', 'exited', 'network', 'ancestor'];

/**
 * `ps --filter KEY=VALUE` as Docker reads it: values of one key are alternatives, keys must all match. `id` (a
 * prefix of the id), `name` (a regular expression, matched against the name with and without its leading '/'),
 * `status` (Docker's states; shows stopped containers without -a), `exited` (an exit status), `network` (a
 * network the container is on, by name), `ancestor` (the image, by name[:tag] or id prefix).
 */
export function psFilter(specs: string[] = []): { all: boolean; match: (c: Container) => boolean } {
  const by = new Map<string, string[]>();
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const [key, value] = eq < 0 ? [spec, ''] : [spec.slice(0, eq), spec.slice(eq + 1)];
    if (!FILTER_KEYS.includes(key))
      throw new TsnetError(`--filter ${spec}`, `invalid filter '${key}'`, `filter by ${FILTER_KEYS.join(', ')}, e.g. --filter name=web`);
    if (key === 'status' && !STATUSES.includes(value))
      throw new TsnetError(`--filter ${spec}`, `invalid filter 'status=${value}'`, `a status is one of ${STATUSES.join(', ')}`);
    if (key === 'exited' && !/^-?\d+$/.test(value))
      throw new TsnetError(`--filter ${spec}`, `'${value}' is not an exit status`, 'e.g. --filter exited=0');
    if (key === 'name')
      try {
        new RegExp(value);
      } catch {
        throw new TsnetError(`--filter ${spec}`, `'${value}' is not a regular expression`, 'e.g. --filter name=^web$');
      }
    by.set(key, [...(by.get(key) ?? []), value]);
  }
  const tests: Record<string, (c: Container, v: string) => boolean> = {
    id: (c, v) => c.config.id.startsWith(v),
    name: (c, v) => new RegExp(v).test(c.config.name) || new RegExp(v).test(`/${c.config.name}`),
    status: (c, v) => c.state.status === v,
    exited: (c, v) => c.state.status === 'exited' && c.state.exitCode === Number(v),
    network: (c, v) => Object.keys(c.state.network?.networks ?? {}).includes(v),
    ancestor: (c, v) => {
      const image = c.config.image;
      return (
        image === v ||
        image === `${v}:latest` ||
        (/^(sha256:)?[0-9a-f]+$/.test(v) && c.config.imageId.startsWith(v.replace(/^sha256:/, '')))
      );
    },
  };
  return {
    all: by.has('status'),
    match: (c) => [...by].every(([key, values]) => values.some((v) => tests[key]!(c, v))),
  };
}
