// --save FILE / --restore FILE: one JSON line per attachment, route or rule, replayed in order (after a
// reboot, say). Guests are saved by a name that survives a reboot (container or netns name); detach takes its
// line out again.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { PluginError } from '../shared/errors.js';
import { ipSpecOf, parseAttachArgs, type AttachRequest } from './args.js';

/** A saved route or rule: the container and the words of `tsnet route add` / `tsnet rule add`. */
export interface SavedWords {
  container: string;
  words: string[];
  family?: 4 | 6;
}

export type SavedEntry = { line: number; req: AttachRequest } | { line: number; route: SavedWords } | { line: number; rule: SavedWords };

function append(file: string, v: unknown): void {
  try {
    appendFileSync(file, `${JSON.stringify(v)}\n`, { mode: 0o644 });
  } catch (e) {
    throw new PluginError(`--save ${file}`, `cannot append: ${(e as Error).message}`, 'pick a writable file');
  }
}

/**
 * The name to save a guest by: a /run/netns/NAME path as NAME; a pid (or /proc/PID/ns/net) does not survive a
 * reboot, so it is saved with a warning, unless `stable` (the engine's name for that pid) is given.
 */
export function stableGuest(container: string, stable?: string, warn: (m: string) => void = () => undefined): string {
  const m = /^\/run\/netns\/([^/]+)$/.exec(container);
  if (m) return m[1]!;
  if (/^\d+$/.test(container) || /^\/proc\/\d+\/ns\/net$/.test(container)) {
    if (stable) return stable;
    warn(`${container} is a pid: it will name another process (or none) after a reboot; save a container or netns name instead`);
  }
  return container;
}

export function appendSaved(file: string, req: AttachRequest): void {
  append(file, { attach: req });
}

export function appendSavedRoute(file: string, route: SavedWords): void {
  append(file, { route });
}

export function appendSavedRule(file: string, rule: SavedWords): void {
  append(file, { rule });
}

/** Takes out the attach lines of (container, ifname) — a detach with --save FILE. Returns how many went. */
export function removeSaved(file: string, container: string, ifname: string): number {
  if (!existsSync(file)) return 0;
  const lines = readFileSync(file, 'utf8').split('\n');
  let n = 0;
  const keep = lines.filter((l) => {
    try {
      const v = JSON.parse(l) as { attach?: AttachRequest };
      if (v.attach && v.attach.container === container && v.attach.ifname === ifname) {
        n++;
        return false;
      }
    } catch {
      /* comments, blank lines: kept */
    }
    return true;
  });
  if (n) writeFileSync(file, keep.join('\n'));
  return n;
}

/** Re-checks a saved request with the same rules as the command line. */
export function recheck(req: AttachRequest): AttachRequest {
  const ipSpec = ipSpecOf(req);
  const tail = req.mac || req.vlan ? `${req.mac ?? ''}${req.vlan ? `@${req.vlan}` : ''}` : undefined;
  return parseAttachArgs([req.hostIf, req.container, ipSpec, ...(tail ? [tail] : [])], {
    ifname: req.ifname,
    ...(req.hostIfname ? { hostIfname: req.hostIfname } : {}),
    ...(req.takeUplink ? { takeUplink: true } : {}),
    ...(req.bridge ? { bridge: req.bridge } : {}),
    ...(req.uplink ? { uplink: req.uplink } : {}),
    ...(req.force ? { force: true } : {}),
    ...(req.create ? { create: true } : {}),
    ...(req.directPhys ? { directPhys: true } : {}),
    ...(req.family ? { family: String(req.family) } : {}),
  });
}

function checkWords(v: unknown): v is SavedWords {
  const w = v as SavedWords;
  return !!w && typeof w.container === 'string' && Array.isArray(w.words) && w.words.every((x) => typeof x === 'string');
}

/** The saved entries, each with its line number; a malformed line is an error naming it. */
export function readSaved(file: string): SavedEntry[] {
  if (!existsSync(file)) throw new PluginError(`--restore ${file}`, 'no such file', 'give the file written by --save');
  const out: SavedEntry[] = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((text, i) => {
      const t = text.trim();
      if (!t || t.startsWith('#')) return;
      let v: { attach?: AttachRequest; route?: unknown; rule?: unknown };
      try {
        v = JSON.parse(t) as typeof v;
      } catch (e) {
        throw new PluginError(
          `${file}:${i + 1}`,
          `not a saved attachment (${(e as Error).message})`,
          'each line must be as --save wrote it; remove or fix the line',
        );
      }
      if (v.route !== undefined || v.rule !== undefined) {
        const w = v.route ?? v.rule;
        if (!checkWords(w)) throw new PluginError(`${file}:${i + 1}`, 'not a saved route or rule', 'each line must be as --save wrote it');
        out.push(v.route !== undefined ? { line: i + 1, route: w } : { line: i + 1, rule: w });
        return;
      }
      if (!v.attach || typeof v.attach !== 'object')
        throw new PluginError(`${file}:${i + 1}`, 'not a saved attachment (no "attach" key)', 'each line must be as --save wrote it');
      try {
        out.push({ line: i + 1, req: recheck(v.attach) });
      } catch (e) {
        if (e instanceof PluginError) throw new PluginError(`${file}:${i + 1}: ${e.thing}`, e.reason, e.fix);
        throw e;
      }
    });
  return out;
}
