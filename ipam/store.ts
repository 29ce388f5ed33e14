// The durable IPAM store of one network: <dir>/state.json (snapshot) + <dir>/journal (one line per
// transaction) + <dir>/lock (flock).
//
// - A transaction = lock, load (snapshot + journal replay), run the change in memory, append ONE journal
//   line holding all its ops, fdatasync, unlock. So an ADD costs one small append, not a rewrite.
// - A line is applied whole or not at all: a SIGKILL mid-write leaves a tail without '\n', which loaders
//   ignore and the next writer truncates before appending. Every line carries a sequence number.
// - When the journal is longer than max(compactEvery, reservations), the state is compacted: new snapshot
//   via temp + fsync + rename + fsync(dir), then the journal is truncated. A crash between the two is
//   harmless: lines whose sequence number is not above the snapshot's are skipped on replay.
//   Amortised, each transaction still writes O(1) bytes per op; loading reads O(reservations).
// - <dir>/reserve keeps RESERVE_BYTES of the disk for releases: a transaction that only releases and meets a
//   full disk (ENOSPC) deletes it and writes its line in the space that frees, so a DEL or a GC never waits
//   for space to be freed. A transaction that reserves first makes sure the reserve is whole again: an ADD is
//   refused on a disk too full to keep the space its DEL will need.
// - State is root's alone: files 0600, directories 0700; older, looser ones are tightened on the first write.
import { CniCode, IpamError } from './errors.js';
import { NAME_RE } from '../common/paths.js';
import {
  closeSync,
  existsSync,
  fdatasync,
  ftruncateSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  constants,
} from 'node:fs';
import { promisify } from 'node:util';
import { dirname, join } from 'node:path';
import {
  DIR_MODE,
  ensureDir,
  ensureReserve,
  FILE_MODE,
  fsyncDir,
  releaseReserve,
  tightenFd,
  tightenPath,
  writeAll,
  writeFileAtomic,
} from './durable.js';
import { withLock } from './lock.js';
import { IpamState, type Op, type Snapshot } from './state.js';

/** Directory of a network's IPAM state: <root>/ipam/<name>. */
export function ipamDir(root: string, network: string): string {
  return join(root, 'ipam', checkName(network));
}

/** Network names become directory names: the CNI spec's character set, no "..", at most 128 chars. */
export function checkName(name: string): string {
  if (typeof name !== 'string' || !NAME_RE.test(name) || name.length > 128 || name.includes('..')) {
    throw new StoreError(
      `invalid network name ${JSON.stringify(name)}: use letters, digits, '_', '.', '-', starting with a letter or digit (max 128)`,
    );
  }
  return name;
}

export class StoreError extends IpamError {
  constructor(msg: string, fix?: string) {
    super(msg, fix, /invalid network name/.test(msg) ? CniCode.InvalidNetworkConfig : CniCode.IoFailure);
    this.name = 'StoreError';
  }
}

/** Bytes of disk each store keeps for releases: some thousand release lines, or a few filesystem blocks. */
export const RESERVE_BYTES = 64 * 1024;

const isNoSpace = (e: unknown): boolean => (e as NodeJS.ErrnoException)?.code === 'ENOSPC';

function noSpace(dir: string, releasing: boolean): StoreError {
  return new StoreError(
    releasing
      ? `no space left on the filesystem holding the IPAM store ${dir}, not even the space kept for releases`
      : `no space left on the filesystem holding the IPAM store ${dir} for a new address and the space kept to release it`,
    `free space on that filesystem, then try again${releasing ? '' : '; DEL and GC still work until then'}`,
  );
}

export interface StoreOptions {
  lockTimeoutMs?: number;
  /** Compact when the journal has more lines than max(compactEvery, reservations). Default 256. */
  compactEvery?: number;
}

interface Loaded {
  state: IpamState;
  seq: number;
  journalLines: number;
  /** Byte length of the intact part of the journal (a torn tail starts here). */
  journalGood: number;
  journalSize: number;
}

interface Cached {
  /** Identity of the snapshot file the state was built on ('' when there was none). */
  snapshot: string | undefined;
  /** Inode and birth time of the journal read. */
  journalIno: string;
  /** The journal's last complete line as read (ending at loaded.journalGood). */
  lastLine: Buffer;
  loaded: Loaded;
}

/** Identities (fileIdentity) of a store's snapshot and journal, as stat'ed at the start of a transaction. */
interface FileIds {
  snapshot: string | undefined;
  journal: string | undefined;
}

/** What this process last read of each store (by directory); only trusted under the store's lock. */
const LOADED = new Map<string, Cached>();
/** Stores whose modes this process has checked (once per process is enough). */
const TIGHT = new Set<string>();

/** "ino:size:mtimeNs:birthtimeNs" of a file, or undefined when it does not exist. */
function fileIdentity(path: string): string | undefined {
  try {
    const st = statSync(path, { bigint: true });
    return `${st.ino}:${st.size}:${st.mtimeNs}:${st.birthtimeNs}`;
  } catch {
    return undefined;
  }
}
const journalSize = (identity: string): number => Number(identity.split(':')[1]);
/** The parts of a journal's identity that stay while it only grows: inode and birth time. */
const journalBirth = (identity: string): string => {
  const [ino, , , birth] = identity.split(':');
  return `${ino}:${birth}`;
};

/**
 * Parses journal lines appended after sequence number `after`: every complete line must be the next number in
 * turn. Undefined when that does not hold or a line is not JSON (the caller then reloads everything).
 */
function tryParseTail(buf: Buffer, after: number): { ops: Op[]; seq: number; lines: number; good: number } | undefined {
  const ops: Op[] = [];
  let seq = after;
  let pos = 0;
  let lines = 0;
  while (pos < buf.length) {
    const nl = buf.indexOf(0x0a, pos);
    if (nl < 0) break; // a torn tail: left for the next commit to cut
    let entry: { s: number; ops: Op[] };
    try {
      entry = JSON.parse(buf.toString('utf8', pos, nl)) as { s: number; ops: Op[] };
    } catch {
      return undefined;
    }
    if (entry.s !== seq + 1) return undefined;
    ops.push(...entry.ops);
    seq = entry.s;
    lines++;
    pos = nl + 1;
  }
  return { ops, seq, lines, good: pos };
}

/** The complete line that ends at byte `end` (exclusive) of a journal, newline included. */
function lastLineBefore(path: string, end: number): Buffer {
  const chunk = readRange(path, Math.max(0, end - 4096), end);
  const prev = chunk.lastIndexOf(0x0a, chunk.length - 2);
  return chunk.subarray(prev + 1);
}

function readRange(path: string, from: number, to: number): Buffer {
  const buf = Buffer.alloc(to - from);
  const fd = openSync(path, 'r');
  try {
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, from + off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

/**
 * Parses complete journal lines (a torn tail — a write cut short by a crash — is left unread). Entries with
 * a sequence number at or below `after` are already in the snapshot and skipped.
 */
function parseJournal(buf: Buffer, after: number, path: string, offset: number): { ops: Op[]; seq: number; lines: number; good: number } {
  const ops: Op[] = [];
  let seq = 0;
  let pos = 0;
  let lines = 0;
  while (pos < buf.length) {
    const nl = buf.indexOf(0x0a, pos);
    if (nl < 0) break;
    const text = buf.toString('utf8', pos, nl);
    let entry: { s: number; ops: Op[] };
    try {
      entry = JSON.parse(text) as { s: number; ops: Op[] };
    } catch {
      throw new StoreError(
        `IPAM journal ${path} is damaged at byte ${offset + pos} (a complete line that is not JSON). Inspect or remove ${dirname(path)}.`,
      );
    }
    lines++;
    if (entry.s > after) {
      ops.push(...entry.ops);
      seq = Math.max(seq, entry.s);
    }
    pos = nl + 1;
  }
  return { ops, seq, lines, good: pos };
}

const fdatasyncAsync = promisify(fdatasync);

export class IpamStore {
  readonly snapshotPath: string;
  readonly journalPath: string;
  readonly lockPath: string;
  readonly reservePath: string;

  constructor(
    readonly dir: string,
    private readonly opts: StoreOptions = {},
  ) {
    this.snapshotPath = join(dir, 'state.json');
    this.journalPath = join(dir, 'journal');
    this.lockPath = join(dir, 'lock');
    this.reservePath = join(dir, 'reserve');
  }

  static forNetwork(root: string, network: string, opts?: StoreOptions): IpamStore {
    return new IpamStore(ipamDir(root, network), opts);
  }

  exists(): boolean {
    return existsSync(this.lockPath);
  }

  /** Run `fn` on the current state under the lock; persist what it changed. If `fn` throws, nothing is written. */
  async transact<T>(fn: (state: IpamState) => T): Promise<T> {
    return withLock(
      this.lockPath,
      async () => {
        const ids: FileIds = { snapshot: fileIdentity(this.snapshotPath), journal: fileIdentity(this.journalPath) };
        const loaded = this.loadCached(ids);
        try {
          const out = fn(loaded.state);
          const written =
            loaded.state.pending.length > 0 ? await this.commit(loaded, loaded.state.pending, ids.journal !== undefined) : undefined;
          // An append leaves both files' identities as they were (the journal's inode and birth): known.
          this.remember(loaded, written, written && ids.journal !== undefined ? ids : undefined);
          return out;
        } catch (e) {
          LOADED.delete(this.dir); // the in-memory state may hold changes that never reached the disk
          throw e;
        }
      },
      this.opts.lockTimeoutMs,
      () => ensureDir(this.dir),
    );
  }

  /**
   * The state as load() would read it, reusing what this process read last time: when the snapshot is the
   * same file as then, only the journal lines appended since (by any process) are read and applied. A
   * long-lived process (the daemon, the engine) so pays per transaction for what changed, not for every
   * address held. Called under the lock.
   */
  private loadCached(ids: FileIds): Loaded {
    const c = LOADED.get(this.dir);
    const snap = ids.snapshot;
    const jid = ids.journal;
    if (
      c &&
      c.snapshot === snap &&
      jid !== undefined &&
      c.journalIno === journalBirth(jid) &&
      journalSize(jid) >= c.loaded.journalGood &&
      // The journal must still hold, where we left off, the very line we last read or wrote: a store
      // deleted and made again (maybe on the same inode, with as many bytes) fails this.
      (c.loaded.journalGood === 0 ||
        readRange(this.journalPath, c.loaded.journalGood - c.lastLine.length, c.loaded.journalGood).equals(c.lastLine))
    ) {
      const l = c.loaded;
      const size = journalSize(jid);
      if (size > l.journalGood) {
        const tail = readRange(this.journalPath, l.journalGood, size);
        const parsed = tryParseTail(tail, l.seq);
        // Only a tail that continues our sequence exactly (s = seq+1, seq+2, …) is trusted; anything else —
        // a journal recreated under the same inode, a torn line at our offset — means a full reload.
        if (!parsed) return this.load();
        for (const op of parsed.ops) l.state.replay(op);
        l.seq = parsed.seq;
        l.journalLines += parsed.lines;
        l.journalGood += parsed.good;
      }
      l.journalSize = size;
      l.state.pending = [];
      return l;
    }
    return this.load();
  }

  /**
   * Keeps the state just committed for the next transaction of this process. `written`: the journal line this
   * transaction appended, when it is still the last one (saves reading it back).
   */
  private remember(loaded: Loaded, written?: Buffer, ids?: FileIds): void {
    const jid = ids?.journal ?? fileIdentity(this.journalPath);
    if (!jid) {
      LOADED.delete(this.dir);
      return;
    }
    loaded.state.pending = [];
    const lastLine = loaded.journalGood === 0 ? Buffer.alloc(0) : (written ?? lastLineBefore(this.journalPath, loaded.journalGood));
    LOADED.set(this.dir, {
      snapshot: ids ? ids.snapshot : fileIdentity(this.snapshotPath),
      journalIno: journalBirth(jid),
      lastLine,
      loaded,
    });
  }

  /** The current state, read under the lock (a missing store is empty). */
  async read(): Promise<IpamState> {
    if (!this.exists()) return new IpamState();
    return withLock(this.lockPath, () => this.load().state, this.opts.lockTimeoutMs);
  }

  /**
   * Empty the store (e.g. `network rm --force`): its state goes, its lock file stays — a process waiting on
   * that lock must not end up holding a lock on a file nobody else sees while a newcomer locks a new one.
   */
  async destroy(): Promise<void> {
    if (!existsSync(this.dir)) return;
    await withLock(
      this.lockPath,
      () => {
        LOADED.delete(this.dir);
        for (const f of readdirSync(this.dir))
          if (join(this.dir, f) !== this.lockPath) rmSync(join(this.dir, f), { recursive: true, force: true });
      },
      this.opts.lockTimeoutMs,
    );
  }

  private load(): Loaded {
    let snap: Snapshot | undefined;
    if (existsSync(this.snapshotPath)) {
      try {
        snap = JSON.parse(readFileSync(this.snapshotPath, 'utf8')) as Snapshot;
      } catch (e) {
        throw new StoreError(
          `IPAM snapshot ${this.snapshotPath} is unreadable (${(e as Error).message}); it is only ever replaced atomically, so the disk or another program damaged it. Restore it or remove the directory ${this.dir} and let GC rebuild the allocations.`,
        );
      }
      if (snap.version !== 1)
        throw new StoreError(`IPAM snapshot ${this.snapshotPath} has unknown version ${String(snap.version)}; this tsnet reads version 1`);
    }
    const state = snap ? IpamState.fromSnapshot(snap) : new IpamState();
    let seq = snap?.seq ?? 0;
    const base = seq;

    let buf: Buffer = Buffer.alloc(0);
    if (existsSync(this.journalPath)) buf = readFileSync(this.journalPath);
    const parsed = parseJournal(buf, base, this.journalPath, 0);
    for (const op of parsed.ops) state.replay(op);
    seq = Math.max(seq, parsed.seq);
    const lines = parsed.lines;
    const pos = parsed.good;
    state.pending = [];
    return { state, seq, journalLines: lines, journalGood: pos, journalSize: buf.length };
  }

  /**
   * Appends the transaction's line and waits for it to reach the disk (still under the lock). The wait runs
   * on a libuv worker, so a caller may do other work meanwhile (the bridge plugin creates its veth while the
   * address it will get is being made durable); nothing reports the allocation before it is on disk.
   * Returns the line written, or undefined when compaction emptied the journal after it.
   */
  private async commit(loaded: Loaded, ops: Op[], journalExists: boolean): Promise<Buffer | undefined> {
    const seq = loaded.seq + 1;
    const line = Buffer.from(JSON.stringify({ s: seq, ops }) + '\n');
    const releasing = ops.every((op) => op.o === '-');
    if (!releasing) {
      try {
        ensureReserve(this.reservePath, RESERVE_BYTES);
      } catch (e) {
        throw isNoSpace(e) ? noSpace(this.dir, false) : e;
      }
    }
    const isNew = !journalExists && !existsSync(this.journalPath);
    const fd = openSync(this.journalPath, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND, FILE_MODE);
    try {
      if (!TIGHT.has(this.dir)) {
        tightenFd(fd);
        tightenPath(this.dir, DIR_MODE);
        TIGHT.add(this.dir);
      }
      if (loaded.journalGood < loaded.journalSize) ftruncateSync(fd, loaded.journalGood);
      try {
        writeAll(fd, line);
        await fdatasyncAsync(fd);
      } catch (e) {
        if (!isNoSpace(e)) throw e;
        // The disk is full. A release takes the space kept for it; anything else fails, leaving no torn line.
        ftruncateSync(fd, loaded.journalGood);
        if (!releasing || !releaseReserve(this.reservePath)) throw noSpace(this.dir, releasing);
        try {
          writeAll(fd, line);
          await fdatasyncAsync(fd);
        } catch (e2) {
          if (!isNoSpace(e2)) throw e2;
          ftruncateSync(fd, loaded.journalGood);
          throw noSpace(this.dir, true);
        }
      }
    } finally {
      closeSync(fd);
    }
    if (isNew) fsyncDir(this.dir);

    loaded.seq = seq;
    loaded.journalGood = Math.min(loaded.journalGood, loaded.journalSize) + line.length;
    loaded.journalSize = loaded.journalGood;
    loaded.journalLines += 1;

    const compactEvery = this.opts.compactEvery ?? 256;
    // Not while the reserve is spent (the disk was full): a snapshot would take the space the next releases need.
    if (loaded.journalLines > Math.max(compactEvery, loaded.state.size) && (!releasing || existsSync(this.reservePath))) {
      // The transaction is committed (its journal line is on disk): compaction is housekeeping. If it fails
      // (disk full, say), the journal keeps growing and the next commit tries again.
      // Its waits for the disk run on a worker (still under the lock): tsnetd serves other networks meanwhile.
      try {
        await writeFileAtomic(this.snapshotPath, JSON.stringify(loaded.state.toSnapshot(seq)));
      } catch {
        LOADED.delete(this.dir);
        return line;
      }
      const jfd = openSync(this.journalPath, constants.O_WRONLY);
      try {
        ftruncateSync(jfd, 0);
        await fdatasyncAsync(jfd);
      } finally {
        closeSync(jfd);
      }
      loaded.journalGood = 0;
      loaded.journalSize = 0;
      loaded.journalLines = 0;
      return undefined;
    }
    return line;
  }
}
