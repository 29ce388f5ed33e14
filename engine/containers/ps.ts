// `tsnet ps`: the table and the --json rows.
import { shortId } from '../ids.js';
import { formatPort } from '../network/ports.js';
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
