// The invoker (our libcni): runs a network's plugin chain for ADD (with prevResult), DEL (reverse order),
// CHECK, GC and STATUS; caches ADD results; injects runtimeConfig for declared capabilities. A plugin type
// found in the in-process registry is called through skel's dispatch (same validation and conversion as an
// exec'd plugin); any other type is exec'd from CNI_PATH.
import { existsSync } from 'node:fs';
import { convertResult } from './convert.js';
import { ResultCache } from './cache.js';
import { parseConfig, type NetworkConfigList } from './conflist.js';
import { cniPath, execPlugin, findPlugin } from './exec.js';
import { dispatch, type PluginEntry } from './skel.js';
import { CniError, ErrorCode, type CniCommand, type NetConf } from './types.js';
import { versionAtLeast } from './version.js';

/** What the runtime knows about one attachment. */
export interface RuntimeConf {
  containerId: string;
  /** Netns path; may be empty for DEL of a gone container. */
  netns: string;
  ifname: string;
  /** CNI_ARGS as pairs. */
  args?: Record<string, string>;
  /** Capability arguments (portMappings, ips, mac, bandwidth, …), injected as runtimeConfig where declared. */
  capabilityArgs?: Record<string, unknown>;
}

export interface Attachment {
  containerId: string;
  ifname: string;
}

/** Plugins the invoker calls in-process instead of exec'ing, by type. */
export type InProcessRegistry = Record<string, PluginEntry>;

export interface InvokerOptions {
  /** Directories searched for plugin executables (default: CNI_PATH, else /opt/cni/bin:/usr/lib/cni). */
  path?: string[];
  /** The result cache; false disables caching (then DEL/CHECK get no prevResult). */
  cache?: ResultCache | false;
  inProcess?: InProcessRegistry;
  /**
   * Another way to run one of the in-process plugins, tried first (the engine's: tsnetd's fast path when it
   * runs): the plugin's parsed stdout as `{ output }`, or undefined when it did not run it (the plugin then runs
   * in-process); a plugin's error is thrown (a CniError).
   */
  via?: (type: string, vars: Record<string, string>, stdin: string) => Promise<{ output: unknown } | undefined>;
  /** Base environment for exec'd plugins (default process.env). */
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** Capabilities that libcni and the conventions document; any declared capability is honoured. */
export const KNOWN_CAPABILITIES = [
  'portMappings',
  'ips',
  'mac',
  'bandwidth',
  'dns',
  'ipRanges',
  'infinibandGUID',
  'deviceID',
  'aliases',
  'io.kubernetes.cri.pod-annotations',
  'cgroupPath',
];

function argsString(args: Record<string, string> | undefined): string {
  return args
    ? Object.entries(args)
        .map(([k, v]) => `${k}=${v}`)
        .join(';')
    : '';
}

export class Invoker {
  readonly path: string[];
  readonly cache: ResultCache | false;
  private readonly inProcess: InProcessRegistry;
  private readonly via: InvokerOptions['via'];
  private readonly env: NodeJS.ProcessEnv;
  private readonly timeoutMs: number;

  constructor(opts: InvokerOptions = {}) {
    this.env = opts.env ?? process.env;
    this.path = opts.path ?? cniPath(this.env);
    this.cache = opts.cache ?? new ResultCache();
    this.inProcess = opts.inProcess ?? {};
    this.via = opts.via;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
  }

  /** One plugin's stdin: the list's name/version, prevResult in the list's version, runtimeConfig. */
  buildConfig(list: NetworkConfigList, plugin: NetConf, rt: Partial<RuntimeConf>, prevResult?: unknown): NetConf {
    const conf: NetConf = { ...plugin, name: list.name, cniVersion: list.cniVersion };
    delete conf.prevResult;
    delete conf.runtimeConfig;
    if (prevResult !== undefined) conf.prevResult = convertResult(prevResult, list.cniVersion, 'prevResult') as never;
    const caps = plugin.capabilities ?? {};
    const rc: Record<string, unknown> = {};
    for (const [cap, on] of Object.entries(caps)) {
      if (on === true && rt.capabilityArgs && rt.capabilityArgs[cap] !== undefined) rc[cap] = rt.capabilityArgs[cap];
    }
    if (Object.keys(rc).length) conf.runtimeConfig = rc;
    return conf;
  }

  /** Runs one plugin for one verb; returns its parsed stdout. */
  async callPlugin(command: CniCommand, conf: NetConf, rt: Partial<RuntimeConf>): Promise<unknown> {
    const vars: Record<string, string> = {
      CNI_COMMAND: command,
      CNI_CONTAINERID: rt.containerId ?? '',
      CNI_NETNS: rt.netns ?? '',
      CNI_IFNAME: rt.ifname ?? '',
      CNI_ARGS: argsString(rt.args),
      CNI_PATH: this.path.join(':'),
    };
    for (const k of Object.keys(vars)) if (vars[k] === '') delete vars[k];
    const stdin = JSON.stringify(conf);
    const local = this.inProcess[conf.type];
    try {
      if (local) {
        const remote = this.via && (await this.via(conf.type, vars, stdin));
        if (remote) return remote.output;
        const out = await dispatch(local.plugin, local.opts, vars, stdin);
        if (out.error) throw out.error;
        return out.stdout;
      }
      const file = findPlugin(conf.type, this.path);
      const env: NodeJS.ProcessEnv = { ...this.env };
      for (const k of ['CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_ARGS', 'CNI_PATH']) delete env[k];
      Object.assign(env, vars);
      return (await execPlugin(file, env, stdin, this.timeoutMs)).output;
    } catch (e) {
      const err = e instanceof CniError ? e : new CniError(ErrorCode.Internal, (e as Error).message);
      throw new CniError(err.code, `plugin type="${conf.type}" name="${conf.name}" ${command} failed: ${err.message}`, err.details);
    }
  }

  /** ADD through the chain; returns the final result in the list's cniVersion and caches it. */
  async add(list: NetworkConfigList, rt: RuntimeConf): Promise<Record<string, unknown>> {
    let prev: Record<string, unknown> | undefined;
    for (const p of list.plugins) {
      const conf = this.buildConfig(list, p, rt, prev);
      const out = await this.callPlugin('ADD', conf, rt);
      if (out === undefined)
        throw new CniError(ErrorCode.DecodingFailure, `plugin type="${p.type}" ADD printed no result`, 'an ADD must print a result JSON');
      prev = convertResult(out, list.cniVersion, `result of plugin '${p.type}'`);
    }
    const result = prev!;
    if (this.cache) {
      this.cache.write({
        networkName: list.name,
        containerId: rt.containerId,
        ifName: rt.ifname,
        cniArgs: rt.args,
        capabilityArgs: rt.capabilityArgs,
        netns: rt.netns,
        config: list.bytes,
        result,
      });
    }
    return result;
  }

  /** The cached ADD result for an attachment, if any. */
  cachedResult(list: NetworkConfigList, rt: Attachment): unknown {
    return this.cache ? this.cache.read(list.name, rt.containerId, rt.ifname)?.result : undefined;
  }

  /** DEL through the chain in reverse; prevResult is the cached ADD result (from 0.4.0). Idempotent. */
  async del(list: NetworkConfigList, rt: RuntimeConf): Promise<void> {
    const cached = versionAtLeast(list.cniVersion, '0.4.0') ? this.cachedResult(list, rt) : undefined;
    for (const p of [...list.plugins].reverse()) {
      await this.callPlugin('DEL', this.buildConfig(list, p, rt, cached), rt);
    }
    if (this.cache) this.cache.remove(list.name, rt.containerId, rt.ifname);
  }

  /** CHECK (0.4.0+): every plugin with the cached ADD result as prevResult. */
  async check(list: NetworkConfigList, rt: RuntimeConf): Promise<void> {
    if (!versionAtLeast(list.cniVersion, '0.4.0')) {
      throw new CniError(
        ErrorCode.IncompatibleVersion,
        `network '${list.name}' is cniVersion ${list.cniVersion}; CHECK needs 0.4.0 or later`,
        'raise cniVersion in the conflist',
      );
    }
    if (list.disableCheck) return;
    const cached = this.cachedResult(list, rt);
    if (cached === undefined) {
      throw new CniError(
        ErrorCode.UnknownContainer,
        `no cached ADD result for container ${rt.containerId} ifname ${rt.ifname} on network '${list.name}'`,
        'run ADD first (through this invoker), or check the cache directory (TSNET_ROOT)',
      );
    }
    for (const p of list.plugins) await this.callPlugin('CHECK', this.buildConfig(list, p, rt, cached), rt);
  }

  /**
   * GC (1.1.0): DEL every cached attachment of the network that is not in `valid`, then GC each plugin
   * with cni.dev/valid-attachments. Returns the attachments it removed.
   */
  async gc(list: NetworkConfigList, valid: Attachment[]): Promise<Attachment[]> {
    const removed: Attachment[] = [];
    const keep = new Set(valid.map((a) => `${a.containerId}\0${a.ifname}`));
    const errors: string[] = [];
    if (this.cache) {
      for (const c of this.cache.list(list.name)) {
        if (keep.has(`${c.containerId}\0${c.ifName}`)) continue;
        let cachedList = list;
        try {
          cachedList = parseConfig(c.config, `cached config of ${c.containerId}`);
        } catch {
          /* fall back to the current config */
        }
        try {
          // The netns recorded at ADD, when it still exists, so plugins can also clean inside it.
          const netns = c.netns && existsSync(c.netns) ? c.netns : '';
          await this.del(cachedList, {
            containerId: c.containerId,
            ifname: c.ifName,
            netns,
            args: c.cniArgs,
            capabilityArgs: c.capabilityArgs,
          });
          removed.push({ containerId: c.containerId, ifname: c.ifName });
        } catch (e) {
          errors.push((e as Error).message);
        }
      }
    }
    if (versionAtLeast(list.cniVersion, '1.1.0') && !list.disableGC) {
      const va = valid.map((a) => ({ containerID: a.containerId, ifname: a.ifname }));
      for (const p of list.plugins) {
        const conf = this.buildConfig(list, p, {});
        conf['cni.dev/valid-attachments'] = va;
        try {
          await this.callPlugin('GC', conf, {});
        } catch (e) {
          errors.push((e as Error).message);
        }
      }
    }
    if (errors.length)
      throw new CniError(ErrorCode.Internal, `GC of network '${list.name}' had ${errors.length} failure(s)`, errors.join('; '));
    return removed;
  }

  /** STATUS (1.1.0): asks every plugin whether it is ready; throws the first plugin's error. */
  async status(list: NetworkConfigList): Promise<void> {
    if (!versionAtLeast(list.cniVersion, '1.1.0')) return;
    for (const p of list.plugins) await this.callPlugin('STATUS', this.buildConfig(list, p, {}), {});
  }

  /** VERSION of one plugin type: {cniVersion, supportedVersions}. */
  async version(type: string, cniVersion = '1.1.0'): Promise<unknown> {
    return this.callPlugin('VERSION', { cniVersion, name: 'version', type } as NetConf, {});
  }
}
