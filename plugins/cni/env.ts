// The CNI_* environment of one invocation: which variables each verb needs, and the hostile-input checks
// that run before anything touches the host.
import { NAME_RE } from '../../common/paths.js';
import { CniError, ErrorCode, type CniArgs, type CniCommand } from './types.js';

export const COMMANDS: readonly CniCommand[] = ['ADD', 'DEL', 'CHECK', 'VERSION', 'GC', 'STATUS'];

/** Variables each verb requires (spec "Parameters"; CNI_NETNS is optional for DEL, CNI_ARGS always optional). */
const REQUIRED: Record<CniCommand, readonly string[]> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH'],
  GC: ['CNI_PATH'],
  STATUS: ['CNI_PATH'],
  VERSION: [],
};

const CONTAINER_ID = NAME_RE;
/** IFNAMSIZ is 16 including the NUL. */
export const MAX_IFNAME_BYTES = 15;

function envError(msg: string, fix: string): CniError {
  return new CniError(ErrorCode.InvalidEnvironment, msg, fix);
}

/** Why `name` is not a usable interface name, or undefined when it is. */
export function ifnameProblem(name: string): string | undefined {
  if (name === '') return 'is empty';
  if (name === '.' || name === '..') return `'${name}' is reserved`;
  if (Buffer.byteLength(name) > MAX_IFNAME_BYTES)
    return `'${name}' is ${Buffer.byteLength(name)} bytes, the kernel allows at most ${MAX_IFNAME_BYTES}`;
  if (/[/:\s]/u.test(name)) return `'${name}' contains '/', ':' or whitespace`;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(name)) return `'${name}' contains a control character`;
  return undefined;
}

export function validateIfname(name: string, label = 'CNI_IFNAME'): void {
  const p = ifnameProblem(name);
  if (p) throw envError(`${label} ${p}`, 'use an interface name of 1-15 bytes without "/", ":" or whitespace, e.g. eth0');
}

export function validateContainerId(id: string, label = 'CNI_CONTAINERID'): void {
  if (!CONTAINER_ID.test(id)) {
    throw envError(
      `${label} '${id}' is not a valid container ID`,
      'it must match ^[a-zA-Z0-9][a-zA-Z0-9_.\\-]*$ (letters, digits, "_", ".", "-")',
    );
  }
}

/** Parses CNI_ARGS "K=V;K=V" (empty pieces ignored). */
export function parseCniArgs(s: string, label = 'CNI_ARGS'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of s.split(';')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0)
      throw envError(
        `${label}: '${pair}' is not KEY=VALUE`,
        'pass CNI_ARGS as KEY=VALUE pairs separated by ";", e.g. IgnoreUnknown=1;K8S_POD_NAME=web',
      );
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

export function parseCommand(env: NodeJS.ProcessEnv): CniCommand {
  const cmd = env.CNI_COMMAND;
  if (!cmd) throw envError('required env variable CNI_COMMAND missing', `set CNI_COMMAND to one of ${COMMANDS.join(', ')}`);
  if (!(COMMANDS as readonly string[]).includes(cmd)) throw envError(`unknown CNI_COMMAND: '${cmd}'`, `use one of ${COMMANDS.join(', ')}`);
  return cmd as CniCommand;
}

/**
 * Reads and validates the CNI_* variables for a verb. Throws CniError(InvalidEnvironment) naming every
 * missing variable, or the first malformed one. Pure: the netns path is checked separately (netns-check.ts).
 */
export function parseEnv(env: NodeJS.ProcessEnv): CniArgs {
  const command = parseCommand(env);
  const missing = REQUIRED[command].filter((k) => !env[k]);
  if (missing.length) {
    throw envError(
      `required env variables [${missing.join(',')}] missing for ${command}`,
      `the runtime must set ${missing.join(', ')} (see the CNI spec, "Parameters")`,
    );
  }
  const containerId = env.CNI_CONTAINERID ?? '';
  const ifname = env.CNI_IFNAME ?? '';
  const netns = env.CNI_NETNS ?? '';
  const attachment = command === 'ADD' || command === 'DEL' || command === 'CHECK';
  if (attachment) {
    validateContainerId(containerId);
    validateIfname(ifname);
  }
  if (netns && (!netns.startsWith('/') || netns.includes('\0'))) {
    throw envError(
      `CNI_NETNS '${netns}' is not an absolute path`,
      'pass the path of a network namespace, e.g. /run/netns/NAME or /proc/PID/ns/net',
    );
  }
  const args = parseCniArgs(env.CNI_ARGS ?? '');
  const path = (env.CNI_PATH ?? '').split(':').filter(Boolean);
  return { command, containerId, netns, ifname, args, path };
}
