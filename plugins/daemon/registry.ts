// The plugins tsnetd runs in-process, by CNI type: the same { plugin, opts } each type's main.ts passes to
// runPlugin (plugins/registry.ts), so answers are identical to the standalone executable. A type not listed
// is declined and the shim runs its standalone executable.
import type { PluginEntry } from '../cni/skel.js';
import { inProcessPlugins } from '../registry.js';

export type Registered = PluginEntry;

export type Registry = Map<string, Registered>;

export function defaultRegistry(): Registry {
  return new Map(Object.entries(inProcessPlugins()));
}
