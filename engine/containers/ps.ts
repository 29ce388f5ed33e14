// `tsnet ps`: the table and the --json rows.
import { shortId } from '../ids.js';
import { formatPort } from '../network/ports.js';
import type { Container } from './model.js';

export function ago(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} seconds ago`;
  if (s < 3600) return `${Math.round(s / 60)} minutes ago`;
  if (s < 86400) return `${Math.round(s / 3600)} hours ago`;
  return `${Math.round(s / 86400)} days ago`;
}

export function statusText(c: Container, now = Date.now()): string {
  const st = c.state;
  if (st.status === 'running') return `Up ${ago(st.startedAt, now).replace(' ago', '')}`;
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
