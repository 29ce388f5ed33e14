// Config validation with the precompiled (standalone) ajv validators from validators.generated.ts:
// turns an ajv error into a message that names the field and what is wrong with it.
import { CniError, ErrorCode, type NetConf } from './types.js';

/** The subset of an ajv ErrorObject (compiled with verbose: true) that messages use. */
export interface SchemaError {
  instancePath: string;
  schemaPath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
  parentSchema?: { description?: string };
  data?: unknown;
}

/** A standalone validator: ajv's generated function. */
export type StandaloneValidator = ((data: unknown) => boolean) & { errors?: SchemaError[] | null };

/** "/ipam/ranges/0/1/subnet" → ".ipam.ranges[0][1].subnet" */
export function jsonPointerToPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((seg) => (/^\d+$/.test(seg) ? `[${seg}]` : `.${seg}`))
    .join('');
}

function shown(v: unknown): string {
  const s = JSON.stringify(v);
  if (s === undefined) return String(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/** "bridge.mtu: must be integer between 68 and 65535 (got 9)" */
export function describeSchemaError(label: string, e: SchemaError): string {
  if (e.keyword === 'required') return `${label}${jsonPointerToPath(e.instancePath)}.${String(e.params.missingProperty)}: is required`;
  const what = e.parentSchema?.description ?? e.message ?? `fails ${e.keyword}`;
  const got = e.data !== undefined && typeof e.data !== 'object' ? ` (got ${shown(e.data)})` : e.data === null ? ' (got null)' : '';
  return `${label}${jsonPointerToPath(e.instancePath)}: ${what}${got}`;
}

/** Throws CniError(InvalidNetworkConfig) naming the field when `data` fails `validator`. */
export function assertValid(validator: StandaloneValidator, data: unknown, label: string): void {
  if (validator(data)) return;
  const errs = validator.errors ?? [];
  const msg = errs.length ? describeSchemaError(label, errs[0]) : `${label}: invalid configuration`;
  throw new CniError(
    ErrorCode.InvalidNetworkConfig,
    msg,
    'fix the network configuration (the .conf/.conflist file or the stdin JSON) and retry',
  );
}

/** A `validate` hook for runPlugin from a generated validator; messages are prefixed with the plugin type. */
export function schemaCheck(validator: StandaloneValidator, label?: string): (conf: NetConf) => void {
  return (conf) => assertValid(validator, conf, label ?? conf.type);
}
