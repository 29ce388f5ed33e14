// What attach did to the host and detach must undo: a NIC taken into a bridge (--take-uplink, --uplink, the
// CNI attach plugin's "uplink") with its addresses and routes, and whether tsnet made that bridge. One small
// JSON file per bridge, <root>/attachments/uplinks/<host netns inode>-<bridge>.json (root-only: 0700 dirs,
// 0600 files, written atomically), under <root>/attachments/lock. <root>/attachments/ is the place for the
// attachment registry to grow into.
//
// The kernel says when a bridge is idle: when no port is left on it but the NICs it took, the last container
// is gone, and releaseIdleUplinks gives each NIC back (out of the bridge, its addresses and routes back on it)
// and deletes the bridge if tsnet made it.
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Netns } from '../../native/netns.js';
import type { Link } from '../../native/netlink/link.js';
import { stateRoot } from '../../common/paths.js';
import { fsyncDir, writeFileAtomic } from '../../ipam/durable.js';
import { withLock } from '../../ipam/lock.js';
import { AttachErrorCode, PluginError } from '../shared/errors.js';
import { giveBackUplink, type UplinkMove } from './host-if.js';

export interface UplinkRecord {
  version: 1;
  /** The host netns the bridge lives in, "net:[inode]". */
  netns: string;
  bridge: string;
  bridgeIndex: number;
  /** Whether tsnet made the bridge for this (then it goes when the last NIC is given back). */
  createdBridge: boolean;
  /** The bridge's own MAC before it took its first NIC's (a bridge that existed before). */
  bridgeMac?: string;
  /** The NICs taken, in order. */
  uplinks: UplinkMove[];
}

export function attachmentsDir(root = stateRoot()): string {
  return join(root, 'attachments');
}

function uplinksDir(root: string): string {
  return join(attachmentsDir(root), 'uplinks');
}

function inode(netns: string): string {
  return /(\d+)/.exec(netns)?.[1] ?? netns;
}

function recordPath(root: string, netns: string, bridge: string): string {
  return join(uplinksDir(root), `${inode(netns)}-${bridge}.json`);
}

/** Runs fn holding the attachments lock (the directories are made root-only on first use). */
export function withAttachLock<T>(fn: () => Promise<T>, root = stateRoot()): Promise<T> {
  return withLock(join(attachmentsDir(root), 'lock'), fn, undefined, () => {
    mkdirSync(uplinksDir(root), { recursive: true, mode: 0o700 });
    fsyncDir(root);
  });
}

/** The records of the bridges of one host netns; a file that is not a record is skipped (left for a human). */
export function readUplinkRecords(netns: string, root = stateRoot()): UplinkRecord[] {
  let names: string[];
  try {
    names = readdirSync(uplinksDir(root));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: UplinkRecord[] = [];
  for (const name of names) {
    if (!name.startsWith(`${inode(netns)}-`) || !name.endsWith('.json')) continue;
    try {
      const r = JSON.parse(readFileSync(join(uplinksDir(root), name), 'utf8')) as UplinkRecord;
      if (r.version === 1 && r.netns === netns && typeof r.bridge === 'string' && Array.isArray(r.uplinks)) out.push(r);
    } catch {
      /* not ours to judge: a torn or foreign file never comes from writeFileAtomic */
    }
  }
  return out;
}

export function readUplinkRecord(netns: string, bridge: string, root = stateRoot()): UplinkRecord | undefined {
  return readUplinkRecords(netns, root).find((r) => r.bridge === bridge);
}

export async function writeUplinkRecord(r: UplinkRecord, root = stateRoot()): Promise<void> {
  const path = recordPath(root, r.netns, r.bridge);
  mkdirSync(uplinksDir(root), { recursive: true, mode: 0o700 });
  try {
    await writeFileAtomic(path, `${JSON.stringify(r)}\n`);
    chmodSync(path, 0o600);
  } catch (e) {
    throw new PluginError(
      `record of bridge ${r.bridge}`,
      `cannot write ${path}: ${(e as Error).message}`,
      'free space or fix the permissions under the state root ($TSNET_ROOT or /var/lib/tsnet), then attach again',
      AttachErrorCode.Kernel,
    );
  }
}

export function removeUplinkRecord(r: Pick<UplinkRecord, 'netns' | 'bridge'>, root = stateRoot()): void {
  rmSync(recordPath(root, r.netns, r.bridge), { force: true });
  fsyncDir(uplinksDir(root));
}

/**
 * Notes, before it happens, that `move` takes a NIC into `bridge` (appended to the bridge's record, or a new
 * one). Call with the attachments lock held. Returns the undo (the NIC taken off the record again).
 */
export async function recordUplink(
  host: Netns,
  bridge: Link,
  createdBridge: boolean,
  move: UplinkMove,
  root = stateRoot(),
): Promise<() => Promise<void>> {
  const netns = host.id();
  const prev = readUplinkRecord(netns, bridge.name, root);
  const rec: UplinkRecord =
    prev && prev.bridgeIndex === bridge.index
      ? { ...prev, uplinks: [...prev.uplinks.filter((u) => u.nicIndex !== move.nicIndex), move] }
      : {
          version: 1,
          netns,
          bridge: bridge.name,
          bridgeIndex: bridge.index,
          createdBridge,
          ...(!createdBridge && bridge.mac ? { bridgeMac: bridge.mac } : {}),
          uplinks: [move],
        };
  await writeUplinkRecord(rec, root);
  return async () => {
    const now = readUplinkRecord(netns, bridge.name, root);
    if (!now) return;
    const uplinks = now.uplinks.filter((u) => u.nicIndex !== move.nicIndex);
    if (uplinks.length) await writeUplinkRecord({ ...now, uplinks }, root);
    else removeUplinkRecord(now, root);
  };
}

/**
 * For each recorded bridge of the host netns that no container uses any more (no port but the NICs it
 * took): gives the NICs back, deletes the bridge if tsnet made it, removes the record. A record whose bridge
 * is gone or was replaced is dropped. Call with the attachments lock held. Returns what could not be undone.
 */
export async function releaseIdleUplinks(host: Netns, root = stateRoot()): Promise<string[]> {
  const records = readUplinkRecords(host.id(), root);
  if (!records.length) return [];
  const links = await host.rtnl.links();
  const failed: string[] = [];
  for (const rec of records) {
    const bridge = links.find((l) => l.index === rec.bridgeIndex);
    if (!bridge || bridge.name !== rec.bridge || bridge.kind !== 'bridge') {
      removeUplinkRecord(rec, root); // deleted (or replaced) by someone else: nothing of ours is left to undo
      continue;
    }
    const nics = new Set(rec.uplinks.map((u) => u.nicIndex));
    if (links.some((l) => l.masterIndex === bridge.index && !nics.has(l.index))) continue; // still in use
    const errs: string[] = [];
    for (const move of [...rec.uplinks].reverse()) errs.push(...(await giveBackUplink(host, bridge.index, move)));
    if (rec.createdBridge)
      await host.rtnl.deleteLinkIfExists(bridge.index).catch((e) => errs.push(`delete bridge: ${(e as Error).message}`));
    else if (rec.bridgeMac)
      await host.rtnl.setLink(bridge.index, { mac: rec.bridgeMac }).catch((e) => errs.push(`restore its MAC: ${(e as Error).message}`));
    // Tried once: what failed is reported, not retried at every later detach (a crash before this line
    // leaves the record, and the steps above replay safely).
    removeUplinkRecord(rec, root);
    if (errs.length) failed.push(`bridge ${rec.bridge}: ${errs.join('; ')}`);
  }
  return failed;
}
