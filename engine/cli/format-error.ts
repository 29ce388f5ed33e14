// The one place where an error becomes CLI text: one line, `tsnet: <thing>: <reason> (<fix>)`, and the exit
// status the command ends with.
import { CniCode, isTsnetError } from '../../common/errors.js';

/** The one line the CLI prints for any error. */
export function formatError(e: unknown): string {
  // A plugin's CNI error whose code is "internal" is a surprise like any unclassified error; every other
  // TsnetError already names the thing, the reason and the fix.
  if (isTsnetError(e) && !(e.name === 'CniError' && e.cniCode === CniCode.Internal))
    return `tsnet: ${e.summary}${e.fix ? ` (${e.fix})` : ''}`;
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    return `tsnet: ${e.message}${code && !e.message.includes(code) ? ` [${code}]` : ''} (this is unexpected; re-run with TSNET_DEBUG=1 for a stack trace)`;
  }
  return `tsnet: ${String(e)}`;
}

/** The exit status for an error: the TsnetError's own, else 125 (as docker uses for engine errors). */
export function exitCodeOf(e: unknown): number {
  return isTsnetError(e) ? e.exitCode : 125;
}
