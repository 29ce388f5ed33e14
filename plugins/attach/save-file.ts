// --save FILE / --restore FILE: one JSON line per attachment, replayed in order (after a reboot, say).
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { PluginError } from '../shared/errors.js';
import { ipSpecOf, parseAttachArgs, type AttachRequest } from './args.js';

export function appendSaved(file: string, req: AttachRequest): void {
  try {
    appendFileSync(file, `${JSON.stringify({ attach: req })}\n`, { mode: 0o644 });
  } catch (e) {
    throw new PluginError(`--save ${file}`, `cannot append: ${(e as Error).message}`, 'pick a writable file');
  }
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
    ...(req.family ? { family: String(req.family) } : {}),
  });
}

/** The saved requests, each with its line number; a malformed line is an error naming it. */
export function readSaved(file: string): { line: number; req: AttachRequest }[] {
  if (!existsSync(file)) throw new PluginError(`--restore ${file}`, 'no such file', 'give the file written by --save');
  const out: { line: number; req: AttachRequest }[] = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((text, i) => {
      const t = text.trim();
      if (!t || t.startsWith('#')) return;
      let v: { attach?: AttachRequest };
      try {
        v = JSON.parse(t) as { attach?: AttachRequest };
      } catch (e) {
        throw new PluginError(
          `${file}:${i + 1}`,
          `not a saved attachment (${(e as Error).message})`,
          'each line must be as --save wrote it; remove or fix the line',
        );
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
