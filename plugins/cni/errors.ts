// Maps anything a plugin throws to a spec error (code, msg, details).
import { CniError, ErrorCode } from './types.js';

/** An error that says "try again later" (spec code 11). */
export interface TransientError extends Error {
  transient: true;
}

export function toCniError(e: unknown): CniError {
  if (e instanceof CniError) return e;
  // A CniError from another copy of types.ts (two bundles in one process) still has a numeric code.
  if (e instanceof Error && e.name === 'CniError' && typeof (e as CniError).code === 'number') {
    return new CniError((e as CniError).code, e.message, (e as CniError).details ?? '');
  }
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    const details = [e.name !== 'Error' ? e.name : '', typeof code === 'string' || typeof code === 'number' ? `code ${code}` : '']
      .filter(Boolean)
      .join(', ');
    if ((e as Partial<TransientError>).transient === true) return new CniError(ErrorCode.TryAgainLater, e.message, details || 'transient; retry the operation');
    return new CniError(ErrorCode.Internal, e.message, details || 'unexpected plugin error');
  }
  return new CniError(ErrorCode.Internal, String(e), 'a non-Error value was thrown');
}

/** The spec's error JSON. */
export function errorJson(err: CniError, cniVersion: string): { cniVersion: string; code: number; msg: string; details?: string } {
  return err.toJSON(cniVersion);
}
