// The plugin side of the CNI contract: env + stdin in, result or spec error JSON out. `dispatch` is the pure
// core (the invoker's in-process path calls it too); `runPlugin` binds it to the process.
// Start-up matters (a plugin is exec'd per ADD/DEL): this module imports node builtins, the precompiled base
// validator and Netns (whose addon is loaded on first use, e.g. when a netns path must be checked).
import { readFileSync, fstatSync, writeSync } from 'node:fs';
import { Netns } from '../../native/netns.js';
import { fromInternal, toInternal } from './convert.js';
import { parseCommand, parseEnv } from './env.js';
import { errorJson, toCniError } from './errors.js';
import { checkNetns, type NsTypeProbe } from './netns-check.js';
import { CniError, ErrorCode, SUPPORTED_VERSIONS, type CniArgs, type CniCommand, type NetConf, type Plugin } from './types.js';
import { assertValid, type StandaloneValidator } from './validate.js';
import { netconf as netconfValidatorRaw } from './validators.generated.js';
import { isSupportedVersion, LATEST, versionAtLeast, VERB_FLOOR } from './version.js';

const netconfValidator: StandaloneValidator = netconfValidatorRaw;

export interface SkelOptions<C extends NetConf = NetConf> {
  /** Plugin name for messages and the about line, e.g. "bridge". */
  name: string;
  /** Spec versions the plugin accepts; default: all tsnet supports. */
  supportedVersions?: readonly string[];
  /** Plugin-specific config validation (e.g. schemaCheck(bridgeValidator)); throw CniError(7) when invalid. */
  validate?(conf: C): void;
  /** Printed on stderr when run without CNI_COMMAND, e.g. "CNI bridge plugin (tsnet 0.1.0)". */
  about?: string;
  /** Accept CNI_NETNS naming the plugin's own netns (only the host plugin: its container shares it). */
  allowOwnNetns?: boolean;
}

/** The outcome of one invocation: what to print on stdout and the exit status. */
export interface Outcome {
  exitCode: number;
  /** JSON value for stdout (result, version info, or error), or undefined for a silent success. */
  stdout?: unknown;
  /** The error, when exitCode != 0. */
  error?: CniError;
}

export interface DispatchHooks {
  /** Replaces the native nsType probe (tests). */
  nsType?: NsTypeProbe;
}

function decode(stdin: string): unknown {
  try {
    return JSON.parse(stdin);
  } catch (e) {
    const why = stdin.trim() === '' ? 'stdin is empty' : (e as Error).message;
    throw new CniError(
      ErrorCode.DecodingFailure,
      `error decoding network config from stdin: ${why}`,
      'the runtime must write the network configuration as one JSON object on stdin',
    );
  }
}

/** Parses + checks the stdin config: decodable (6), object with name/type/cniVersion (7), supported version (1). */
export function parseNetConf(stdin: string, supported: readonly string[]): NetConf {
  const raw = decode(stdin);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `network config must be a JSON object, got ${Array.isArray(raw) ? 'array' : raw === null ? 'null' : typeof raw}`,
      'write {"cniVersion": ..., "name": ..., "type": ...} on stdin',
    );
  }
  assertValid(netconfValidator, raw, 'netconf');
  const conf = raw as NetConf;
  if (!isSupportedVersion(conf.cniVersion) || !supported.includes(conf.cniVersion)) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      'incompatible CNI versions',
      `config is ${JSON.stringify(conf.cniVersion)}, plugin supports [${supported.join(', ')}]; set cniVersion to one of them`,
    );
  }
  return conf;
}

/** prevResult of any supported version → internal 1.x; a malformed one is an invalid config (7). */
function readPrevResult(raw: unknown) {
  try {
    return toInternal(raw, 'prevResult');
  } catch (e) {
    if (e instanceof CniError && e.code === ErrorCode.DecodingFailure)
      throw new CniError(ErrorCode.InvalidNetworkConfig, e.message, e.details);
    throw e;
  }
}

function versionFloor(command: CniCommand, v: string, supported: readonly string[]): void {
  const floor = VERB_FLOOR[command];
  if (floor && !versionAtLeast(v, floor)) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      `config version does not allow ${command}`,
      `${command} exists from cniVersion ${floor}; the config says ${v}`,
    );
  }
  if (floor && !supported.some((s) => versionAtLeast(s, floor))) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      `plugin version does not allow ${command}`,
      `this plugin supports [${supported.join(', ')}]`,
    );
  }
}

function versionAnswer(stdin: string | undefined, supported: readonly string[]): Outcome {
  let v: string = LATEST;
  if (stdin) {
    try {
      const req = JSON.parse(stdin) as { cniVersion?: unknown };
      if (isSupportedVersion(req?.cniVersion)) v = req.cniVersion;
    } catch {
      /* VERSION ignores an undecodable body, like the reference skel */
    }
  }
  return { exitCode: 0, stdout: { cniVersion: v, supportedVersions: [...supported] } };
}

/**
 * One invocation, without touching the process: `env` holds the CNI_* variables, `stdin` the config
 * (read lazily: VERSION never needs it). Never throws; errors become an Outcome with the spec error JSON.
 */
export async function dispatch<C extends NetConf>(
  plugin: Plugin<C>,
  opts: SkelOptions<C>,
  env: NodeJS.ProcessEnv,
  stdin: string | (() => string),
  hooks: DispatchHooks = {},
): Promise<Outcome> {
  const supported = opts.supportedVersions ?? SUPPORTED_VERSIONS;
  const readStdin = typeof stdin === 'function' ? stdin : () => stdin;
  let errVersion: string = LATEST;
  try {
    const command = parseCommand(env);
    if (command === 'VERSION') return versionAnswer(readStdin(), supported);
    const args: CniArgs = parseEnv(env);
    const conf = parseNetConf(readStdin(), supported) as C;
    errVersion = conf.cniVersion;
    versionFloor(command, conf.cniVersion, supported);
    if (conf.prevResult !== undefined) conf.prevResult = readPrevResult(conf.prevResult);
    opts.validate?.(conf);
    await checkNetns(command, args.netns, hooks.nsType, opts.allowOwnNetns ?? false);
    switch (command) {
      case 'ADD': {
        const result = await plugin.add(conf, args);
        return { exitCode: 0, stdout: fromInternal(toInternal({ ...result, cniVersion: conf.cniVersion }, 'result'), conf.cniVersion) };
      }
      case 'DEL':
        await plugin.del(conf, args);
        return { exitCode: 0 };
      case 'CHECK':
        await plugin.check(conf, args);
        return { exitCode: 0 };
      case 'GC':
        await plugin.gc?.(conf, args);
        return { exitCode: 0 };
      case 'STATUS':
        await plugin.status?.(conf, args);
        return { exitCode: 0 };
    }
  } catch (e) {
    const error = toCniError(e);
    return { exitCode: 1, stdout: errorJson(error, errVersion), error };
  }
}

/** Reads stdin unless it is a terminal (VERSION may be run by hand). */
function readProcessStdin(): string {
  try {
    if (fstatSync(0).isCharacterDevice()) return '';
  } catch {
    return '';
  }
  return readFileSync(0, 'utf8');
}

/** The `main` of a CNI plugin executable: dispatch on the process's env and stdin, print, exit. */
/** A plugin and how the skel runs it: what `plugins/<type>/plugin.ts` exports, and what the registry holds. */
export interface PluginEntry<C extends NetConf = NetConf> {
  plugin: Plugin<C>;
  opts: SkelOptions<C>;
}

/**
 * The CNI executable: one invocation from the process's env and stdin, then exit. A one-shot process uses
 * blocking netlink sockets (nothing else runs while the kernel answers; the daemon keeps async ones).
 */
export async function runPlugin<C extends NetConf>({ plugin, opts }: PluginEntry<C>): Promise<never> {
  Netns.defaults = { blocking: true };
  if (!process.env.CNI_COMMAND && opts.about)
    process.stderr.write(`${opts.about}\nCNI protocol versions supported: ${(opts.supportedVersions ?? SUPPORTED_VERSIONS).join(', ')}\n`);
  const out = await dispatch(plugin, opts, process.env, readProcessStdin);
  if (out.stdout !== undefined) {
    const text = `${JSON.stringify(out.stdout, null, 2)}\n`;
    // Write synchronously: process.exit must not cut a piped stdout short.
    writeAllSync(1, text);
  }
  if (out.error && out.error.code === ErrorCode.Internal && process.env.TSNET_DEBUG) process.stderr.write(`${out.error.stack}\n`);
  process.exit(out.exitCode);
}

function writeAllSync(fd: number, text: string): void {
  const buf = Buffer.from(text);
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      throw e;
    }
  }
}
