// The attachment registry: every interface `tsnet attach` (or the CNI attach plugin) made, with what it made —
// one small JSON file per attachment, <root>/attachments/registry/<container netns inode>-<ifname>.json,
// root-only and written atomically, next to the uplink records (uplink-record.ts). `tsnet attach ls` lists
// it, `tsnet detach` removes only what it lists (and stops the attachment's lease keeper), `tsnet inspect`
// shows a container's. The kernel stays the truth: a record whose interface is gone is reported as stale.
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { stateRoot } from '../../common/paths.js';
import { fsyncDir, writeFileAtomic } from '../../ipam/durable.js';
import { AttachErrorCode, PluginError } from '../shared/errors.js';
import { attachmentsDir } from './uplink-record.js';
import type { UplinkMove } from './host-if.js';

/** A NIC moved into a container (--direct-phys), as it was on the host. */
export interface PhysRecord {
  /** The host's netns ("net:[inode]") it came from. */
  hostNetns: string;
  /** Its name, MAC and MTU on the host. */
  name: string;
  mac?: string;
  mtu: number;
  /** Its global addresses, routes and up state on the host (what giving it back restores). */
  move: UplinkMove;
}

export interface AttachmentRecord {
  version: 1;
  /** The container as the user named it. */
  container: string;
  /** How it was named in messages ("container web", "/run/netns/x", "pid 42"). */
  label: string;
  netnsPath: string;
  /** The container's netns, "net:[inode]". */
  netns: string;
  ifname: string;
  ifindex: number;
  mac: string;
  /** 'bridge': a veth into `bridge`; 'macvlan': a macvlan of `parent`; 'phys': the NIC `hostIf` itself (--direct-phys). */
  mode: 'bridge' | 'macvlan' | 'phys';
  /** The host interface named in the attach (bridge or NIC). */
  hostIf: string;
  bridge?: string;
  hostVeth?: string;
  parent?: string;
  createdBridge: boolean;
  addresses: string[];
  gateway?: string;
  /** Routes added inside the container through tsnet for this attachment (the gateway's). */
  routes: string[];
  dhcp?: { client: string; keeper: { pid: number; start?: string }; lease?: number };
  /** --direct-phys: what the NIC was on the host, to give it back as it was on detach. */
  phys?: PhysRecord;
  created: string;
}

function dir(root: string): string {
  return join(attachmentsDir(root), 'registry');
}

function inode(netns: string): string {
  return /(\d+)/.exec(netns)?.[1] ?? netns;
}

function path(root: string, netns: string, ifname: string): string {
  return join(dir(root), `${inode(netns)}-${ifname}.json`);
}

export async function writeAttachment(r: AttachmentRecord, root = stateRoot()): Promise<void> {
  const p = path(root, r.netns, r.ifname);
  const write = async () => {
    mkdirSync(dir(root), { recursive: true, mode: 0o700 });
    chmodSync(attachmentsDir(root), 0o700);
    await writeFileAtomic(p, `${JSON.stringify(r)}\n`);
    chmodSync(p, 0o600);
  };
  try {
    // A removal elsewhere may take the empty directory away between the mkdir and the write: once more then.
    await write().catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? write() : Promise.reject(e)));
  } catch (e) {
    throw new PluginError(
      `record of ${r.ifname} in ${r.label}`,
      `cannot write ${p}: ${(e as Error).message}`,
      'free space or fix the permissions under the state root ($TSNET_ROOT or /var/lib/tsnet), then attach again',
      AttachErrorCode.Kernel,
    );
  }
}

export function readAttachments(root = stateRoot()): AttachmentRecord[] {
  let names: string[];
  try {
    names = readdirSync(dir(root));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: AttachmentRecord[] = [];
  for (const name of names.sort()) {
    if (!name.endsWith('.json')) continue;
    try {
      const r = JSON.parse(readFileSync(join(dir(root), name), 'utf8')) as AttachmentRecord;
      if (r.version === 1 && typeof r.ifname === 'string' && typeof r.netns === 'string') out.push(r);
    } catch {
      /* not a record of ours */
    }
  }
  return out;
}

export function findAttachment(netns: string, ifname: string, root = stateRoot()): AttachmentRecord | undefined {
  return readAttachments(root).find((r) => r.netns === netns && r.ifname === ifname);
}

/** Removes a record; the registry's directories go with the last one, so a state root is left as found. */
export function removeAttachment(r: Pick<AttachmentRecord, 'netns' | 'ifname'>, root = stateRoot()): void {
  rmSync(path(root, r.netns, r.ifname), { force: true });
  try {
    fsyncDir(dir(root));
  } catch {
    /* no directory: nothing was there */
  }
  for (const d of [dir(root), attachmentsDir(root)]) {
    try {
      rmdirSync(d); // only when empty (ENOTEMPTY otherwise): uplink records, the lock or other records stay
    } catch {
      break;
    }
  }
}
