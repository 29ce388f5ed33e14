// `tsnet run`, first half: options checked against the image, the name reserved, config.json and the first
// state.json written. Nothing runs yet (./start.ts does that).
import { isIP } from 'node:net';
import { hostname as hostHostname } from 'node:os';
import { TsnetError } from '../../common/errors.js';
import { newId, randomName, shortId, validateName } from '../ids.js';
import { getImage } from '../images/store.js';
import { parseNetMode } from '../network/modes.js';
import type { PortMapping } from '../network/ports.js';
import type { Limits } from '../runtime/cgroups.js';
import { resolveSecurity, type SecurityOptions } from '../runtime/security.js';
import type { ContainerConfig } from './model.js';
import { releaseName, reserveName, saveConfig, saveState } from './store.js';

export interface RunOptions {
  image: string;
  cmd: string[];
  name?: string;
  hostname?: string;
  net?: string;
  ip?: string;
  aliases?: string[];
  dns?: string[];
  ports?: PortMapping[];
  env?: string[];
  workdir?: string;
  limits?: Limits;
  security?: SecurityOptions;
  autoRemove?: boolean;
  detached?: boolean;
}

function mergeEnv(base: string[], extra: string[]): string[] {
  const m = new Map<string, string>();
  for (const kv of [...base, ...extra]) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new TsnetError(`-e ${kv}`, 'expected KEY=VALUE', 'write -e NAME=value');
    m.set(kv.slice(0, i), kv);
  }
  return [...m.values()];
}

/** Validates options and writes config.json; reserves the name. */
export function createContainer(o: RunOptions): ContainerConfig {
  const img = getImage(o.image);
  const netMode = parseNetMode(o.net); // fail early on a bad --net
  if (o.aliases?.length && netMode.kind !== 'network')
    throw new TsnetError(
      `--network-alias ${o.aliases[0]}`,
      'network-scoped aliases exist on user networks only',
      "run the container on a network made with 'tsnet network create'",
    );
  for (const d of o.dns ?? [])
    if (!isIP(d)) throw new TsnetError(`--dns ${d}`, 'not an IP address', 'give the address of a nameserver, e.g. --dns 192.0.2.53');
  const security = resolveSecurity(o.security); // and on bad --cap-add/--cap-drop/--security-opt
  const cmd = [...(img.config.entrypoint ?? []), ...(o.cmd.length ? o.cmd : (img.config.cmd ?? []))];
  if (!cmd.length)
    throw new TsnetError(`image ${img.name}`, 'has no default command', 'give one after the image: tsnet run IMAGE sh -c ...');
  const id = newId();
  let name = o.name ? validateName(o.name) : randomName();
  for (let i = 0; ; i++) {
    try {
      reserveName(name, id);
      break;
    } catch (e) {
      if (o.name || i > 20) throw e;
      name = `${randomName()}${i > 5 ? `_${i}` : ''}`;
    }
  }
  const mode = parseNetMode(o.net);
  const hostname = o.hostname ?? (mode.kind === 'host' ? hostHostname() : shortId(id));
  if (!/^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,62})$/.test(hostname)) {
    releaseName(name, id);
    throw new TsnetError(`--hostname '${hostname}'`, 'not a valid hostname', 'use letters, digits, dots and dashes, at most 63');
  }
  const defaultEnv = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];
  const cfg: ContainerConfig = {
    id,
    name,
    image: img.name,
    imageId: img.id,
    created: new Date().toISOString(),
    cmd,
    env: mergeEnv(img.config.env ?? defaultEnv, [`HOSTNAME=${hostname}`, ...(o.env ?? [])]),
    workdir: o.workdir ?? img.config.workingDir ?? '/',
    hostname,
    net: o.net ?? 'bridge',
    ip: o.ip,
    ...(o.aliases?.length ? { aliases: [...new Set(o.aliases)] } : {}),
    ...(o.dns?.length ? { dns: o.dns } : {}),
    ports: o.ports ?? [],
    limits: o.limits ?? {},
    security,
    autoRemove: !!o.autoRemove,
    detached: !!o.detached,
  };
  try {
    saveConfig(cfg);
    saveState(id, { status: 'created' });
  } catch (e) {
    releaseName(name, id);
    throw e;
  }
  return cfg;
}
