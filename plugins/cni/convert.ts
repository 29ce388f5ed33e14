// Result conversion between spec versions. Internally every result is the 1.x shape (types.ts); at the edges
// a result is read from any supported version and written in the version the config asks for.
//   0.3.0/0.3.1/0.4.0: ips[] carry `version` ("4"|"6"); interfaces have name/mac/sandbox; routes dst/gw.
//   1.0.0: `version` dropped from ips[].
//   1.1.0: adds interfaces[].mtu/socketPath/pciID and routes[].mtu/advmss/priority/table/scope.
import { CniError, ErrorCode, type Dns, type Interface, type IpConfig, type Result, type Route } from './types.js';
import { isLegacyResultVersion, isSupportedVersion, LATEST } from './version.js';

function bad(where: string, what: string): never {
  throw new CniError(
    ErrorCode.DecodingFailure,
    `${where}: ${what}`,
    'a CNI result must be {cniVersion, interfaces?, ips?, routes?, dns?} as the spec defines; fix the plugin or runtime that produced it',
  );
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function str(o: Record<string, unknown>, k: string, where: string, required = false): string | undefined {
  const v = o[k];
  if (v === undefined || (v === '' && !required)) {
    if (required) bad(`${where}.${k}`, 'is required');
    return undefined;
  }
  if (typeof v !== 'string') bad(`${where}.${k}`, `must be a string, got ${typeof v}`);
  return v;
}

function int(o: Record<string, unknown>, k: string, where: string): number | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) bad(`${where}.${k}`, 'must be a non-negative integer');
  return v;
}

function strList(v: unknown, where: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) bad(where, 'must be an array of strings');
  return v as string[];
}

function readDns(v: unknown, where: string): Dns | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) bad(where, 'must be an object');
  const d: Dns = {};
  const ns = strList(v.nameservers, `${where}.nameservers`);
  if (ns) d.nameservers = ns;
  const dom = str(v, 'domain', where);
  if (dom !== undefined) d.domain = dom;
  const s = strList(v.search, `${where}.search`);
  if (s) d.search = s;
  const o = strList(v.options, `${where}.options`);
  if (o) d.options = o;
  return d;
}

/**
 * Reads a result of any supported version into the internal 1.x shape. `where` names the value in errors
 * ("prevResult"). Throws CniError(DecodingFailure) naming the bad field.
 */
export function toInternal(raw: unknown, where = 'result'): Result {
  if (!isObj(raw)) bad(where, 'must be a JSON object');
  const version = raw.cniVersion;
  if (!isSupportedVersion(version)) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      `${where}.cniVersion: unsupported version ${JSON.stringify(version)}`,
      'supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0',
    );
  }
  const out: Result = { cniVersion: version };
  if (raw.interfaces !== undefined && raw.interfaces !== null) {
    if (!Array.isArray(raw.interfaces)) bad(`${where}.interfaces`, 'must be an array');
    out.interfaces = raw.interfaces.map((x, i): Interface => {
      const w = `${where}.interfaces[${i}]`;
      if (!isObj(x)) bad(w, 'must be an object');
      const itf: Interface = { name: str(x, 'name', w, true)! };
      const mac = str(x, 'mac', w);
      if (mac !== undefined) itf.mac = mac;
      const mtu = int(x, 'mtu', w);
      if (mtu !== undefined) itf.mtu = mtu;
      const sandbox = str(x, 'sandbox', w);
      if (sandbox !== undefined) itf.sandbox = sandbox;
      const sp = str(x, 'socketPath', w);
      if (sp !== undefined) itf.socketPath = sp;
      const pci = str(x, 'pciID', w);
      if (pci !== undefined) itf.pciID = pci;
      return itf;
    });
  }
  if (raw.ips !== undefined && raw.ips !== null) {
    if (!Array.isArray(raw.ips)) bad(`${where}.ips`, 'must be an array');
    out.ips = raw.ips.map((x, i): IpConfig => {
      const w = `${where}.ips[${i}]`;
      if (!isObj(x)) bad(w, 'must be an object');
      const address = str(x, 'address', w, true)!;
      if (!address.includes('/')) bad(`${w}.address`, `must be CIDR notation (address/prefix), got '${address}'`);
      const ip: IpConfig = { address };
      const gw = str(x, 'gateway', w);
      if (gw !== undefined) ip.gateway = gw;
      const idx = int(x, 'interface', w);
      if (idx !== undefined) {
        if (!out.interfaces || idx >= out.interfaces.length) bad(`${w}.interface`, `index ${idx} is not in interfaces[]`);
        ip.interface = idx;
      }
      if (x.version !== undefined) {
        const fam = address.includes(':') ? '6' : '4';
        if (x.version !== fam) bad(`${w}.version`, `is ${JSON.stringify(x.version)} but ${address} is IPv${fam}`);
      }
      return ip;
    });
  }
  if (raw.routes !== undefined && raw.routes !== null) {
    if (!Array.isArray(raw.routes)) bad(`${where}.routes`, 'must be an array');
    out.routes = raw.routes.map((x, i): Route => {
      const w = `${where}.routes[${i}]`;
      if (!isObj(x)) bad(w, 'must be an object');
      const r: Route = { dst: str(x, 'dst', w, true)! };
      const gw = str(x, 'gw', w);
      if (gw !== undefined) r.gw = gw;
      for (const k of ['mtu', 'advmss', 'priority', 'table', 'scope'] as const) {
        const n = int(x, k, w);
        if (n !== undefined) r[k] = n;
      }
      return r;
    });
  }
  const dns = readDns(raw.dns, `${where}.dns`);
  if (dns && Object.keys(dns).length) out.dns = dns;
  return out;
}

/** Writes an internal result in the shape of `version` (0.3.x/0.4.0 legacy or 1.x). */
export function fromInternal(result: Result, version: string = LATEST): Record<string, unknown> {
  if (!isSupportedVersion(version)) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      `cannot write a result as cniVersion ${JSON.stringify(version)}`,
      'supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0',
    );
  }
  const legacy = isLegacyResultVersion(version);
  const out: Record<string, unknown> = { cniVersion: version };
  if (result.interfaces) {
    out.interfaces = result.interfaces.map((i) => {
      const o: Record<string, unknown> = { name: i.name };
      if (i.mac !== undefined) o.mac = i.mac;
      if (!legacy && i.mtu !== undefined) o.mtu = i.mtu;
      if (i.sandbox !== undefined) o.sandbox = i.sandbox;
      if (!legacy && i.socketPath !== undefined) o.socketPath = i.socketPath;
      if (!legacy && i.pciID !== undefined) o.pciID = i.pciID;
      return o;
    });
  }
  if (result.ips) {
    out.ips = result.ips.map((ip) => {
      const o: Record<string, unknown> = {};
      if (legacy) o.version = ip.address.includes(':') ? '6' : '4';
      if (ip.interface !== undefined) o.interface = ip.interface;
      o.address = ip.address;
      if (ip.gateway !== undefined) o.gateway = ip.gateway;
      return o;
    });
  }
  if (result.routes) {
    out.routes = result.routes.map((r) => {
      if (legacy) return r.gw !== undefined ? { dst: r.dst, gw: r.gw } : { dst: r.dst };
      return { ...r };
    });
  }
  // Like the reference types, always present (an empty object when there is nothing to say).
  out.dns = result.dns ? { ...result.dns } : {};
  return out;
}

/** Any-version result in, `version` result out (the invoker's and skel's one conversion). */
export function convertResult(raw: unknown, version: string, where = 'result'): Record<string, unknown> {
  return fromInternal(toInternal(raw, where), version);
}
