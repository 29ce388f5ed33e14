// Loader and types for tsnet's node-addon-api addon (native/src/addon.cc).
// The addon is loaded on first use, so commands that never touch the kernel (VERSION, --help) never pay for it.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { nativeArtifactCandidates } from './artifacts.js';

export interface NativeAddon {
  /** groups: multicast groups to join at bind (RTMGRP_* bits), for a monitor socket. */
  netlinkOpen(nsPath: string | null, protocol: number, groups?: number): number;
  netlinkPortId(fd: number): number;
  netlinkSend(fd: number, data: Buffer): number;
  netlinkRecv(fd: number): Promise<Buffer>;
  netlinkRecvSync(fd: number): Buffer;
  /** A datagram already queued, or null: never waits. */
  netlinkRecvNow(fd: number): Buffer | null;
  /** Sends on a thread of its own; returns an eventfd that turns readable when sendmsg() returned (1, or 1 + errno). */
  netlinkSendDetached(fd: number, data: Buffer): number;
  /** Resolves with the fds that are readable, waiting on a worker thread; rejects with ETIMEDOUT. */
  pollReadable(fds: number[], timeoutMs: number): Promise<number[]>;
  nsType(path: string): number;
  netnsCreate(dir: string, name: string): string;
  netnsDelete(path: string): void;
  socketAt(nsPath: string | null, domain: number, type: number, protocol: number): number;
  /**
   * A socket bound (not listening, no SO_REUSEADDR, close-on-exec) to addr:port: while it is open no other
   * socket binds that port. Port 0 picks a free one from the ephemeral range. Returns [fd, port bound].
   */
  bindPort(family: 4 | 6, udp: boolean, addr: string, port: number): [number, number];
  packetSend(fd: number, ifindex: number, ethertype: number, dstMac: Buffer, frame: Buffer): number;
  /** dirFds: directories (e.g. /proc/sys/net/ipv6) opened inside the same namespace earlier; used, not closed. */
  writeFilesAt(nsPath: string | null, paths: string[], data: string[], dirFds?: Record<string, number>): void;
  readFileAt(nsPath: string | null, path: string): string;
  /**
   * Opens a directory inside a namespace on a thread of its own; resolves with its fd (the caller closes it).
   * `slot`: an Int32Array set to -2, where the fd (or -1) is published as soon as it is open (before the promise settles).
   */
  openDirAtAsync(nsPath: string | null, path: string, slot?: Int32Array): Promise<number>;
  setns(path: string, nstype: number): void;
  unshare(flags: number): void;
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  umount(target: string, flags: number): void;
  pivotRoot(newRoot: string, putOld: string): void;
  sethostname(name: string): void;
  flock(fd: number, operation: number): boolean;
  strerror(errno: number): { code: string; message: string };
  gettid(): number;
  /**
   * posix_spawn (vfork semantics: no copy of this process, unlike child_process's fork) of `file` in a session of
   * its own, signals at their defaults and unblocked, from a worker thread (posix_spawn returns once the child has
   * exec'd: that wait is not this thread's); the child's fd i is fds[i] (-1: /dev/null), each duplicated before
   * this returns (close yours at once). Resolves with its pid; reap it with reap.
   */
  spawnProcess(file: string, argv: string[], env: string[], fds: number[]): Promise<number>;
  /**
   * waitpid(WNOHANG) of a child of ours: its exit code, or 128 + the signal that ended it; null while it runs.
   * Never waits: call it on SIGCHLD.
   */
  reap(pid: number): number | null;
  /** [read end, write end], close-on-exec. */
  pipe(): [number, number];
  /** A connected pair of unix stream sockets, close-on-exec. */
  socketPair(): [number, number];
  /** A non-blocking unix stream socket bound at path (born 0600) and listening. */
  frameListen(path: string, backlog: number): number;
  /**
   * Accepts on a listening fd, reads one length-prefixed frame per connection within the limits, hands over
   * (fd, body, who is calling as the kernel says); over a limit a client gets a fallback frame (protocol.ts).
   */
  FrameServer: new (
    listenFd: number,
    onRequest: (fd: number, body: Buffer, peer: FramePeer) => void,
    onError: (message: string) => void,
    limits: FrameLimits,
  ) => FrameServer;
}

export interface FrameLimits {
  /** Largest request body, in bytes. */
  maxFrame: number;
  /** Deadline for a whole request, from accept. */
  readTimeoutMs: number;
  /** Connections open at once (being read, handed over, being answered). */
  maxConnections: number;
  /** Bytes of requests (their declared lengths) held at once until answered. */
  maxBuffered: number;
  /** Tests: find a caller's namespaces through /proc/PID/ns even where its pidfd would tell (Linux ≥ 6.11). */
  peerFromProc?: boolean;
}

/** The caller of a connection, from the kernel (SO_PEERCRED, its pidfd or /proc/PID/ns). */
export interface FramePeer {
  /** As this process's pid namespace sees it; 0 when it is not visible here. */
  pid: number;
  /** As this process's user namespace sees them; -1 when unknown. */
  uid: number;
  gid: number;
  /** The caller's namespaces as "dev:ino" (as `statSync('/proc/self/ns/net')` gives them); '' when unknown. */
  netns: string;
  pidns: string;
  userns: string;
}

export interface FrameServer {
  /**
   * Writes a framed answer on a handed-over connection and closes it: 'sent'; 'queued' when the socket would
   * not take it all at once (the rest is written as the client reads, dropped after 10 s without progress);
   * 'gone' when the client had closed its end, or fd is not a connection waiting for an answer. Never waits.
   */
  reply(fd: number, data: Buffer): 'sent' | 'queued' | 'gone';
  /** Closes a handed-over connection without an answer. */
  drop(fd: number): void;
  /** Stops accepting and closes the listening fd; connections being read are still handed over. */
  close(): void;
  /** Closes the connections whose request is still being read. */
  dropReading(): void;
  /** Connections accepted whose request is still being read. */
  readonly reading: number;
  /** Connections open: being read, handed over, or being answered. */
  readonly open: number;
  /** Bytes reserved for requests not answered yet. */
  readonly buffered: number;
  /** Connections refused (over a limit) since start. */
  readonly refused: number;
}

/** An error from a syscall in the addon: `code` is the errno name ('EEXIST'), `syscall` the call. */
export interface SysError extends Error {
  errno: number;
  code: string;
  syscall: string;
  path?: string;
}

export function isSysError(e: unknown, code?: string): e is SysError {
  return e instanceof Error && typeof (e as SysError).errno === 'number' && (code === undefined || (e as SysError).code === code);
}

export const CLONE_NEWNS = 0x00020000;
export const CLONE_NEWUTS = 0x04000000;
export const CLONE_NEWIPC = 0x08000000;
export const CLONE_NEWPID = 0x20000000;
export const CLONE_NEWNET = 0x40000000;
export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;
export const MS_RDONLY = 1;
export const MS_NOSUID = 2;
export const MS_NODEV = 4;
export const MS_NOEXEC = 8;
export const MS_REMOUNT = 32;
export const MS_BIND = 4096;
export const MS_REC = 16384;
export const MS_PRIVATE = 1 << 18;
export const MS_SLAVE = 1 << 19;
export const MS_SHARED = 1 << 20;
export const MNT_DETACH = 2;

let loaded: NativeAddon | undefined;

/** Where the addon may be: $TSNET_NATIVE, next to a bundle, then native/build/{Release,Debug} upwards. */
export function addonCandidates(): string[] {
  return nativeArtifactCandidates('tsnet_native.node', 'TSNET_NATIVE');
}

export function native(): NativeAddon {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  const tried: string[] = [];
  for (const p of addonCandidates()) {
    if (!existsSync(p)) {
      tried.push(`${p} (missing)`);
      continue;
    }
    try {
      loaded = require(p) as NativeAddon;
      return loaded;
    } catch (e) {
      tried.push(`${p} (${(e as Error).message})`);
    }
  }
  throw new Error(
    `tsnet native addon not found or not loadable; tried:\n  ${tried.join('\n  ')}\n` +
      `Build it with 'npm run build:native' (needs g++, make, python3), or point TSNET_NATIVE at tsnet_native.node.`,
  );
}
