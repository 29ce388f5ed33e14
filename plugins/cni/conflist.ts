// Network configuration files (the invoker side): .conf/.json (one plugin) and .conflist (a chain), looked up
// by network name in a directory (NETCONFPATH, default /etc/cni/net.d), like libcni's conf.go.
import { NAME_RE } from '../../common/paths.js';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CniError, ErrorCode, type NetConf } from './types.js';
import { isSupportedVersion } from './version.js';

export const DEFAULT_CONF_DIR = '/etc/cni/net.d';

export interface NetworkConfigList {
  cniVersion: string;
  name: string;
  disableCheck?: boolean;
  disableGC?: boolean;
  plugins: NetConf[];
  /** Where it was read from, for messages. */
  source: string;
  /** The raw text (cached with ADD results so DEL/GC can use the config the attachment was made with). */
  bytes: string;
}

function invalid(source: string, what: string, fix: string): CniError {
  return new CniError(ErrorCode.InvalidNetworkConfig, `${source}: ${what}`, fix);
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses a .conflist text, or a single-plugin .conf text (wrapped into a one-plugin list). */
export function parseConfig(text: string, source = 'network config'): NetworkConfigList {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new CniError(
      ErrorCode.DecodingFailure,
      `${source}: not valid JSON: ${(e as Error).message}`,
      'fix the file so it holds one JSON object',
    );
  }
  return configFromObject(raw, source, text);
}

/**
 * Validates and normalises an already-parsed .conflist (or single-plugin .conf) object, as parseConfig does
 * after JSON.parse. `text` is what `bytes` keeps: the parsed text, else the object serialised.
 */
export function configFromObject(raw: unknown, source = 'network config', text?: string): NetworkConfigList {
  if (!isObj(raw))
    throw invalid(source, 'must be a JSON object', 'write {"cniVersion", "name", "plugins": [...]} or a single plugin config');
  const name = raw.name;
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw invalid(source, `name ${JSON.stringify(name)} is missing or invalid`, 'set "name" to letters, digits, "_", ".", "-"');
  }
  const version = raw.cniVersion;
  if (!isSupportedVersion(version)) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      `${source}: cniVersion ${JSON.stringify(version)} is not supported`,
      'use one of 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0',
    );
  }
  const single = raw.plugins === undefined;
  const plugins = single ? [raw] : raw.plugins;
  if (!Array.isArray(plugins) || plugins.length === 0)
    throw invalid(source, '"plugins" must be a non-empty array', 'list at least one plugin config');
  const confs = plugins.map((p, i) => {
    if (!isObj(p) || typeof p.type !== 'string' || !NAME_RE.test(p.type)) {
      throw invalid(source, `plugins[${i}].type is missing or invalid`, 'each plugin needs "type": the executable name on CNI_PATH');
    }
    return { ...p, name, cniVersion: version } as NetConf;
  });
  const list: NetworkConfigList = { cniVersion: version, name, plugins: confs, source, bytes: text ?? JSON.stringify(raw) };
  if (typeof raw.disableCheck === 'boolean') list.disableCheck = raw.disableCheck;
  else if (raw.disableCheck === 'true') list.disableCheck = true;
  if (typeof raw.disableGC === 'boolean') list.disableGC = raw.disableGC;
  return list;
}

/** Config files in a directory, sorted by name (libcni's order: the first file wins for a name). */
export function configFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return [];
    throw new CniError(
      ErrorCode.IoFailure,
      `cannot read CNI config directory ${dir}: ${code ?? (e as Error).message}`,
      'check the path and its permissions (NETCONFPATH)',
    );
  }
  return names
    .filter((n) => /\.(conf|conflist|json)$/.test(n))
    .sort()
    .map((n) => join(dir, n));
}

export function confDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.NETCONFPATH || DEFAULT_CONF_DIR;
}

/** Every parseable network in `dir` (unparseable files are reported in `errors`, not thrown). */
export function loadNetworks(dir: string): { networks: NetworkConfigList[]; errors: string[] } {
  const networks: NetworkConfigList[] = [];
  const errors: string[] = [];
  for (const f of configFiles(dir)) {
    try {
      networks.push(parseConfig(readFileSync(f, 'utf8'), f));
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  return { networks, errors };
}

/** The network named `name` in `dir`; the error lists the networks that do exist. */
export function findNetwork(name: string, dir: string = confDir()): NetworkConfigList {
  const { networks, errors } = loadNetworks(dir);
  const hit = networks.find((n) => n.name === name);
  if (hit) return hit;
  const known = networks.map((n) => n.name);
  throw new CniError(
    ErrorCode.InvalidNetworkConfig,
    `no network named '${name}' in ${dir}`,
    `known networks: ${known.length ? known.join(', ') : '(none)'}${errors.length ? `; unreadable files: ${errors.join('; ')}` : ''}. ` +
      'Add a .conflist with that "name", or point NETCONFPATH at the directory holding it.',
  );
}
