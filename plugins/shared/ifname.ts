// Interface names as the kernel takes them (IFNAMSIZ: at most 15 bytes, no "/", ":" or white space).
import { PluginError } from './errors.js';

const IFNAME_RE = /^[^\s/:]{1,15}$/;

/** Throws a PluginError naming `what` unless `name` is a valid interface name. */
export function checkIfname(name: string, what: string): void {
  if (!IFNAME_RE.test(name) || name === '.' || name === '..')
    throw new PluginError(
      `${what} ${JSON.stringify(name)}`,
      'not a valid interface name',
      'use 1 to 15 characters without spaces, "/" or ":"',
    );
}
