// The CNI wire types (spec 1.1.0 shapes are the internal form; older versions are converted at the edge).
// https://github.com/containernetworking/cni/blob/main/SPEC.md

import { CniCode, TsnetError } from '../../common/errors.js';

export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION' | 'GC' | 'STATUS';

/** Environment of one invocation, parsed and validated (CNI_* variables). */
export interface CniArgs {
  command: CniCommand;
  containerId: string;
  /** Path of the container's network namespace (CNI_NETNS); empty for GC/STATUS/VERSION. */
  netns: string;
  ifname: string;
  /** CNI_ARGS parsed as K=V;K=V. */
  args: Record<string, string>;
  /** CNI_PATH split on ':'. */
  path: string[];
}

/** Network configuration as received on stdin (one plugin's config, with name/cniVersion injected). */
export interface NetConf {
  cniVersion: string;
  name: string;
  type: string;
  args?: Record<string, unknown>;
  ipMasq?: boolean;
  ipam?: IpamConf;
  dns?: Dns;
  runtimeConfig?: Record<string, unknown>;
  capabilities?: Record<string, boolean>;
  prevResult?: Result;
  /** CNI 1.1 GC: attachments the runtime still considers valid. */
  'cni.dev/valid-attachments'?: { containerID: string; ifname: string }[];
  [key: string]: unknown;
}

export interface IpamConf {
  type: string;
  [key: string]: unknown;
}

export interface Dns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

export interface Interface {
  name: string;
  mac?: string;
  mtu?: number;
  sandbox?: string;
  socketPath?: string;
  pciID?: string;
}

export interface IpConfig {
  /** CIDR notation: the address and the prefix length of its subnet, e.g. "10.1.0.5/24". */
  address: string;
  gateway?: string;
  /** Index into Result.interfaces. */
  interface?: number;
}

export interface Route {
  dst: string;
  gw?: string;
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}

/** A 1.x result. */
export interface Result {
  cniVersion: string;
  interfaces?: Interface[];
  ips?: IpConfig[];
  routes?: Route[];
  dns?: Dns;
}

/** Spec well-known error codes (common/errors.ts holds the table: every layer's errors carry one). */
export const ErrorCode = CniCode;

/**
 * An error as the CNI wire carries it (code, msg, details): what a plugin's error JSON decodes to, and what
 * code that speaks CNI throws. A TsnetError whose reason is the msg and whose fix is the details.
 */
export class CniError extends TsnetError {
  constructor(code: number, msg: string, details = '') {
    super('', msg, details || undefined, { cniCode: code });
    this.message = msg; // the wire's msg; the details stay apart, as in the JSON
    this.name = 'CniError';
  }
  get code(): number {
    return this.cniCode!;
  }
  get details(): string {
    return this.fix ?? '';
  }
  toJSON(cniVersion: string): { cniVersion: string; code: number; msg: string; details?: string } {
    return { cniVersion, code: this.code, msg: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

/** A plugin as a library: the CNI executable, the engine and the CLI all call these. */
export interface Plugin<C extends NetConf = NetConf> {
  add(conf: C, args: CniArgs): Promise<Result>;
  del(conf: C, args: CniArgs): Promise<void>;
  check(conf: C, args: CniArgs): Promise<void>;
  gc?(conf: C, args: CniArgs): Promise<void>;
  status?(conf: C, args: CniArgs): Promise<void>;
}
