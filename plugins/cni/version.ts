// CNI spec versions: parsing, ordering and the floors at which verbs exist.
import { SUPPORTED_VERSIONS, type CniVersion } from './types.js';

export const LATEST: CniVersion = SUPPORTED_VERSIONS[SUPPORTED_VERSIONS.length - 1];

/** Parses "X.Y.Z" into numbers; undefined when it is not a three-part dotted version. */
export function parseVersion(v: string): [number, number, number] | undefined {
  const m = /^(\d{1,4})\.(\d{1,4})\.(\d{1,4})$/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/** Compares two dotted versions (both must parse): <0, 0, >0. */
export function compareVersions(a: string, b: string): number {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  if (!pa || !pb) throw new Error(`cannot compare CNI versions '${a}' and '${b}': expected X.Y.Z`);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return 0;
}

export function versionAtLeast(v: string, floor: string): boolean {
  return compareVersions(v, floor) >= 0;
}

export function isSupportedVersion(v: unknown): v is CniVersion {
  return typeof v === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** True for the 0.3.x/0.4.0 result shape (ips[].version, no 1.x fields). */
export function isLegacyResultVersion(v: string): boolean {
  return v.startsWith('0.');
}

/** The lowest spec version that defines a verb. */
export const VERB_FLOOR: Record<string, string> = { ADD: '0.3.0', DEL: '0.3.0', CHECK: '0.4.0', GC: '1.1.0', STATUS: '1.1.0' };
