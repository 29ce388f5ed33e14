// The one place where an error becomes the CNI spec's error (code, msg, details). A TsnetError carries its
// code and its fix; anything else is classified here: a failed file operation is an I/O failure (5), an
// error marked transient is "try again later" (11), the rest is internal (999).
import { isTsnetError } from '../../common/errors.js';
import { CniError, ErrorCode } from './types.js';

/** An error that says "try again later" (spec code 11). */
export interface TransientError extends Error {
  transient: true;
}

function describe(e: Error): string {
  const code = (e as { code?: unknown }).code;
  return [e.name !== 'Error' ? e.name : '', typeof code === 'string' || typeof code === 'number' ? `code ${code}` : '']
    .filter(Boolean)
    .join(', ');
}

export function toCniError(e: unknown): CniError {
  if (e instanceof CniError) return e;
  if (isTsnetError(e) && e.cniCode !== undefined) return new CniError(e.cniCode, e.summary, e.fix ?? '');
  if (e instanceof Error) {
    const details = (isTsnetError(e) ? e.fix : undefined) ?? describe(e);
    const msg = isTsnetError(e) ? e.summary : e.message;
    if ((e as Partial<TransientError>).transient === true)
      return new CniError(ErrorCode.TryAgainLater, msg, details || 'transient; retry the operation');
    const errno = e as NodeJS.ErrnoException;
    if (typeof errno.code === 'string' && typeof errno.syscall === 'string') return new CniError(ErrorCode.IoFailure, msg, details);
    return new CniError(ErrorCode.Internal, msg, details || 'unexpected plugin error');
  }
  return new CniError(ErrorCode.Internal, String(e), 'a non-Error value was thrown');
}

/** The spec's error JSON. */
export function errorJson(err: CniError, cniVersion: string): { cniVersion: string; code: number; msg: string; details?: string } {
  return err.toJSON(cniVersion);
}
