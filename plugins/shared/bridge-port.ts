// A container's port on a Linux bridge, for every plugin that makes one (bridge, attach): ensure the bridge
// exists and is up, then create a veth pair whose host end is a port of it and whose other end is born inside
// the container's netns under its final name. Kernel refusals become PluginErrors that name the step.
//
// A bridge an ADD made is removed again when that ADD fails (removeBridgeIfUnused), unless it has a port by
// then. What keeps that check from racing another ADD that found the bridge and is about to plug its port in:
// whoever makes a port holds the bridges lock shared from finding (or making) the bridge until the port is on
// it (withBridge); removal holds it exclusive while it looks for ports and deletes. A flock dies with its
// holder, so a killed plugin never leaves it taken.
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { LOCK_EX, LOCK_NB, LOCK_SH, native } from '../../native/addon.js';
import type { Netns } from '../../native/netns.js';
import { isNetlinkError } from '../../native/netlink/errors.js';
import type { Link } from '../../native/netlink/link.js';
import { LockTimeoutError, lockTimeout } from '../../ipam/lock.js';
import { kernelError, PluginError } from './errors.js';
import { randomVethName } from './random-name.js';

/** The calling plugin's CNI codes and messages for what can go wrong here. */
export interface PortErrors {
  codes: { kernel: number; unsupported: number; bridgeFull: number };
  /** `name` exists and is not a bridge. */
  notABridge(link: Link): Error;
  /** The container already has an interface called ifname. */
  interfaceExists(): Error;
}

export interface BridgeSpec {
  name: string;
  mtu: number;
  /** A MAC of its own for a bridge made here (else it takes its lowest port's, which changes as ports come and go). */
  mac?: string;
  promisc?: boolean;
}

/**
 * The bridge `spec.name`, made if missing (another process making it at the same time is fine), up. `known`: the
 * caller's own lookup of it (null: it was missing), saving a second one.
 */
export async function ensureBridge(
  host: Netns,
  spec: BridgeSpec,
  errors: PortErrors,
  known?: Link | null,
): Promise<{ bridge: Link; created: boolean }> {
  const codes = errors.codes;
  let bridge = known === undefined ? await host.rtnl.findLink(spec.name) : (known ?? undefined);
  if (bridge && bridge.kind !== 'bridge') throw errors.notABridge(bridge);
  let created = false;
  if (!bridge) {
    try {
      bridge = await host.rtnl.createLink({ kind: 'bridge', name: spec.name, mtu: spec.mtu, ...(spec.mac ? { mac: spec.mac } : {}) });
      created = true;
    } catch (e) {
      if (isNetlinkError(e, 'EEXIST'))
        bridge = await host.rtnl.link(spec.name); // made concurrently by another call
      else kernelError(e, `create bridge "${spec.name}"`, codes);
    }
  }
  if (!bridge.up || (spec.promisc && !(bridge.promiscuity ?? 0))) {
    await host.rtnl
      .setLink(bridge.index, { up: true, ...(spec.promisc ? { promisc: true } : {}) })
      .catch((e) => kernelError(e, `bring bridge "${spec.name}" up`, codes));
    bridge = await host.rtnl.link(bridge.index);
  }
  return { bridge, created };
}

const LOCK_DIR = '/run/tsnet';
export const BRIDGES_LOCK = `${LOCK_DIR}/bridges.lock`;
/** How long a failed ADD tries to get the bridges lock exclusive before it leaves its bridge in place. */
const REMOVE_WAIT_MS = 2_000;

/**
 * Takes the bridges lock (polled: the event loop never blocks) and returns its release; undefined when it was
 * not had within `waitMs`.
 */
async function bridgesLock(mode: number, waitMs: number): Promise<(() => void) | undefined> {
  let fd: number;
  try {
    fd = openSync(BRIDGES_LOCK, 'a', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    mkdirSync(LOCK_DIR, { recursive: true, mode: 0o700 });
    fd = openSync(BRIDGES_LOCK, 'a', 0o600);
  }
  const t0 = Date.now();
  for (let backoff = 1; !native().flock(fd, mode | LOCK_NB); backoff = Math.min(backoff * 2, 20)) {
    if (Date.now() - t0 >= waitMs) {
      closeSync(fd);
      return undefined;
    }
    await sleep(backoff * (0.5 + Math.random()));
  }
  return () => closeSync(fd); // closing the only fd releases the flock
}

/**
 * The bridge `spec.name` (made if missing, up, as ensureBridge), handed to `plug`, which makes the caller's port
 * on it: under the bridges lock, shared, so no failed ADD removes the bridge between the two.
 */
export async function withBridge<T>(
  host: Netns,
  spec: BridgeSpec,
  errors: PortErrors,
  plug: (bridge: Link, created: boolean) => Promise<T>,
  known?: Link | null,
): Promise<T> {
  const wait = lockTimeout();
  const release = await bridgesLock(LOCK_SH, wait);
  if (!release) throw new LockTimeoutError(BRIDGES_LOCK, wait);
  try {
    const { bridge, created } = await ensureBridge(host, spec, errors, known);
    return await plug(bridge, created);
  } finally {
    release();
  }
}

/**
 * Removes `bridge` (one the caller made) if it is still that very link (same index and name) and nothing is a
 * port of it — under the bridges lock, exclusive, so no ADD is between finding it and plugging a port in.
 * False when it stays: in use, gone or replaced already, or the lock not had within 2 s (a storm of ADDs).
 */
export async function removeBridgeIfUnused(host: Netns, bridge: Pick<Link, 'index' | 'name'>): Promise<boolean> {
  const release = await bridgesLock(LOCK_EX, REMOVE_WAIT_MS);
  if (!release) return false;
  try {
    const now = await host.rtnl.findLink(bridge.index);
    if (!now || now.name !== bridge.name || now.kind !== 'bridge') return false;
    if ((await host.rtnl.links({ master: bridge.index })).length) return false;
    await host.rtnl.deleteLinkIfExists(bridge.index);
    return true;
  } finally {
    release();
  }
}

/**
 * Runs `fn` holding the bridges lock exclusive (no ADD is between finding a bridge and plugging its port in);
 * undefined, without running it, when the lock was not had within `waitMs`.
 */
export async function withBridgesExclusive<T>(waitMs: number, fn: () => Promise<T>): Promise<T | undefined> {
  const release = await bridgesLock(LOCK_EX, waitMs);
  if (!release) return undefined;
  try {
    return await fn();
  } finally {
    release();
  }
}

export interface VethPortSpec {
  bridge: Link;
  /** The container end's name inside ctr. */
  ifname: string;
  /** The host end's name; default a random one with `prefix` (retried if it collides). */
  hostName?: string;
  prefix?: string;
  mtu: number;
  /** The container end's MAC (default: the kernel's random one). */
  mac?: string;
  /** Queues each way (a veth uses one unless raised with `ethtool -L`; the kernel otherwise makes one per CPU). */
  queues?: number;
}

/** A veth pair: host end up and a port of the bridge, container end (down) named ifname inside ctr. */
export async function createVethPort(host: Netns, ctr: Netns, spec: VethPortSpec, errors: PortErrors): Promise<Link> {
  for (let attempt = 0; ; attempt++) {
    const name = spec.hostName ?? randomVethName(spec.prefix);
    const q = spec.queues ? { queues: spec.queues } : {};
    try {
      return await host.rtnl.createLink({
        kind: 'veth',
        name,
        mtu: spec.mtu,
        up: true,
        masterIndex: spec.bridge.index,
        ...q,
        peer: { name: spec.ifname, netnsFd: ctr.fd(), mtu: spec.mtu, ...(spec.mac ? { mac: spec.mac } : {}), ...q },
      });
    } catch (e) {
      if (isNetlinkError(e, 'EXFULL'))
        throw new PluginError(
          '',
          `bridge "${spec.bridge.name}" is full: the kernel allows 1023 ports on a bridge (BR_MAX_PORTS 1024, port 0 reserved)`,
          'spread containers over several networks (each has its own bridge), or DEL attachments you no longer need',
          errors.codes.bridgeFull,
        );
      if (isNetlinkError(e, 'EEXIST')) {
        // Either the container already has ifname (fatal), or the host name is taken: a random one is retried.
        if (await ctr.rtnl.findLink(spec.ifname)) throw errors.interfaceExists();
        if (!spec.hostName && attempt < 5) continue;
      }
      kernelError(e, `create veth pair ${name} ⇄ ${spec.ifname}`, errors.codes);
    }
  }
}
