// A netlink socket (NETLINK_ROUTE by default, NETLINK_NETFILTER for nf_tables), opened inside a chosen network
// namespace by the addon. One request at a time per socket (replies are matched by sequence number); dumps retry
// when the kernel flags them interrupted.
import { constants } from 'node:os';
import { closeSync } from 'node:fs';
import { native } from '../addon.js';
import { sendFromOwnProcess } from '../linger.js';
import { Attr, NetlinkDecodeError } from './attrs.js';
import {
  NETLINK_ROUTE,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_ECHO,
  NLM_F_DUMP_INTR,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
} from './constants.js';
import { NetlinkError } from './errors.js';
import { decodeError, encodeMessage, NlMsg, splitMessages } from './message.js';

const { errno } = constants;

export interface SocketOptions {
  /**
   * Receive on a libuv worker (default) so the event loop keeps running, or block the calling thread —
   * cheaper for one-shot processes such as an exec'd CNI plugin.
   */
  blocking?: boolean;
  /** How many times a dump interrupted by a concurrent change (NLM_F_DUMP_INTR) is retried. */
  dumpRetries?: number;
  /** Netlink protocol (default NETLINK_ROUTE; NETLINK_NETFILTER for nf_tables). */
  protocol?: number;
  /** Multicast groups to join (RTMGRP_* bits): the socket then also receives the namespace's change notifications. */
  groups?: number;
  /**
   * Where sendDetached sends from: a thread of this process (default), or a process of its own (tsnet-linger) —
   * for a process that exits soon after, whose exit would otherwise wait for the kernel's tail of the request.
   */
  detachedSendsFrom?: 'thread' | 'process';
}

/** One request for requestAll: message type and flags (NLM_F_REQUEST and NLM_F_ACK are added), body, and what it does (for errors). */
export interface NetlinkRequest {
  type: number;
  flags: number;
  fixed: Buffer;
  attrs: Attr[];
  operation: string;
}

export class NetlinkSocket {
  private fd: number;
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private queue: Promise<unknown> = Promise.resolve();
  private pending = 0;
  private readonly blocking: boolean;
  private readonly dumpRetries: number;
  private readonly detachedSendsFrom: 'thread' | 'process';

  /** Opens a socket in the netns at nsPath (null: the netns this process runs in). */
  constructor(nsPath: string | null, opts: SocketOptions = {}) {
    this.fd = native().netlinkOpen(nsPath, opts.protocol ?? NETLINK_ROUTE, opts.groups ?? 0);
    this.blocking = opts.blocking ?? false;
    this.dumpRetries = opts.dumpRetries ?? 10;
    this.detachedSendsFrom = opts.detachedSendsFrom ?? 'thread';
  }

  get closed(): boolean {
    return this.fd < 0;
  }

  /** The file descriptor (for polling); -1 once closed. */
  get descriptor(): number {
    return this.fd;
  }

  close(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
  }

  /** Once the requests under way have settled, gives the fd up to the caller (who closes it): this socket is closed then. */
  async takeFd(): Promise<number> {
    await this.queue;
    const fd = this.fd;
    this.fd = -1;
    return fd;
  }

  /** Sends a request with NLM_F_ACK and resolves on the kernel's ACK; rejects with NetlinkError. */
  async request(type: number, flags: number, fixed: Buffer, attrs: Attr[], operation: string): Promise<void> {
    await this.acked(type, flags, fixed, attrs, operation);
  }

  /**
   * Like request(), with NLM_F_ECHO: resolves on the ACK with the notifications the kernel echoed back for
   * this request (e.g. the RTM_NEWLINK of a created link), which saves reading the object again. Kernels
   * that do not echo for a request type resolve with none.
   */
  requestEcho(type: number, flags: number, fixed: Buffer, attrs: Attr[], operation: string): Promise<NlMsg[]> {
    return this.acked(type, flags | NLM_F_ECHO, fixed, attrs, operation);
  }

  /** Sends a request with NLM_F_ACK; resolves on the ACK with the other messages of its sequence number. */
  private acked(type: number, flags: number, fixed: Buffer, attrs: Attr[], operation: string): Promise<NlMsg[]> {
    return this.serialize(async () => {
      const seq = this.nextSeq();
      this.send(encodeMessage(type, flags | NLM_F_REQUEST | NLM_F_ACK, seq, fixed, attrs));
      const others: NlMsg[] = [];
      for (;;) {
        for (const m of await this.recvMessages()) {
          if (m.seq !== seq) continue; // a late reply to an abandoned request
          if (m.type !== NLMSG_ERROR) {
            others.push(m);
            continue;
          }
          const e = decodeError(m);
          if (e.errno === 0) return others;
          throw new NetlinkError(e.errno, operation, e.extack);
        }
      }
    });
  }

  /**
   * Sends several requests in one datagram, each with NLM_F_ACK, and resolves once every one is answered:
   * per request, undefined for its ACK or its NetlinkError. The kernel works through them in order and goes
   * on after a failed one (unlike an nfnetlink batch, nothing is undone), so the caller decides what a
   * failure means for the rest.
   */
  requestAll(reqs: readonly NetlinkRequest[]): Promise<(NetlinkError | undefined)[]> {
    return this.serialize(async () => {
      const seqs = reqs.map(() => this.nextSeq());
      this.send(Buffer.concat(reqs.map((r, i) => encodeMessage(r.type, r.flags | NLM_F_REQUEST | NLM_F_ACK, seqs[i]!, r.fixed, r.attrs))));
      const answers = new Map<number, NetlinkError | undefined>();
      while (answers.size < reqs.length) {
        for (const m of await this.recvMessages()) {
          const i = seqs.indexOf(m.seq);
          if (i < 0 || m.type !== NLMSG_ERROR || answers.has(i)) continue;
          const e = decodeError(m);
          answers.set(i, e.errno === 0 ? undefined : new NetlinkError(e.errno, reqs[i]!.operation, e.extack));
        }
      }
      return reqs.map((_, i) => answers.get(i));
    });
  }

  /** Sends a GET request (no dump) and returns the one reply message; rejects with NetlinkError. */
  get(type: number, fixed: Buffer, attrs: Attr[], operation: string): Promise<NlMsg> {
    return this.getReply(type, fixed, attrs, operation, 0) as Promise<NlMsg>;
  }

  /**
   * Like get(), but the kernel's "there is none" (`absent`, e.g. ENODEV for a link) resolves undefined:
   * an expected answer, not an error (no exception built for it).
   */
  find(type: number, fixed: Buffer, attrs: Attr[], operation: string, absent: number): Promise<NlMsg | undefined> {
    return this.getReply(type, fixed, attrs, operation, absent);
  }

  private getReply(type: number, fixed: Buffer, attrs: Attr[], operation: string, absent: number): Promise<NlMsg | undefined> {
    return this.serialize(async () => {
      const seq = this.nextSeq();
      this.send(encodeMessage(type, NLM_F_REQUEST, seq, fixed, attrs));
      for (;;) {
        for (const m of await this.recvMessages()) {
          if (m.seq !== seq) continue;
          if (m.type === NLMSG_ERROR) {
            const e = decodeError(m);
            if (absent !== 0 && e.errno === absent) return undefined;
            throw new NetlinkError(e.errno || errno.ENODATA, operation, e.extack);
          }
          return m;
        }
      }
    });
  }

  /**
   * Sends `count` messages in one datagram (an nfnetlink batch: BEGIN, operations, END) and resolves when the
   * kernel answers the one at `ackIndex` (the last operation, which carries NLM_F_ACK); an error for any of
   * them rejects (the kernel then applied none). `build(seq)` encodes them from their first sequence number.
   */
  batch(count: number, ackIndex: number, build: (firstSeq: number) => Buffer, operation: string): Promise<void> {
    return this.serialize(async () => {
      const first = this.nextSeq();
      for (let i = 1; i < count; i++) this.nextSeq();
      const last = (first + ackIndex) >>> 0;
      this.send(build(first));
      let failure: NetlinkError | undefined;
      for (;;) {
        for (const m of await this.recvMessages()) {
          if (m.type !== NLMSG_ERROR) continue;
          const inBatch = (m.seq - first) >>> 0 < count;
          if (!inBatch) continue;
          const e = decodeError(m);
          if (e.errno !== 0) failure ??= new NetlinkError(e.errno, operation, e.extack);
          if (m.seq === last || (e.errno !== 0 && m.seq === first)) {
            if (failure) throw failure;
            return;
          }
        }
      }
    });
  }

  /** Runs a dump (NLM_F_DUMP) and returns every message of it; retried whole when interrupted. */
  dump(type: number, fixed: Buffer, attrs: Attr[], operation: string): Promise<NlMsg[]> {
    return this.serialize(async () => {
      for (let attempt = 0; ; attempt++) {
        const { msgs, interrupted } = await this.dumpOnce(type, fixed, attrs, operation);
        if (!interrupted) return msgs;
        if (attempt >= this.dumpRetries)
          throw new NetlinkError(errno.EINTR, `${operation}: dump interrupted ${attempt + 1} times by concurrent changes`);
        // Let the burst of changes pass: 0, 1, 2, 4 … ms (capped), so a busy host does not exhaust the retries.
        if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(2 ** (attempt - 1), 50)));
      }
    });
  }

  private async dumpOnce(type: number, fixed: Buffer, attrs: Attr[], operation: string): Promise<{ msgs: NlMsg[]; interrupted: boolean }> {
    const seq = this.nextSeq();
    this.send(encodeMessage(type, NLM_F_REQUEST | NLM_F_DUMP, seq, fixed, attrs));
    const msgs: NlMsg[] = [];
    let interrupted = false;
    for (;;) {
      for (const m of await this.recvMessages()) {
        if (m.seq !== seq) continue;
        if (m.flags & NLM_F_DUMP_INTR) interrupted = true;
        if (m.type === NLMSG_DONE) {
          if (m.payload.length >= 4) {
            const err = -m.payload.readInt32LE(0);
            if (err > 0) throw new NetlinkError(err, operation);
          }
          return { msgs, interrupted };
        }
        if (m.type === NLMSG_ERROR) {
          const e = decodeError(m);
          if (e.errno !== 0) throw new NetlinkError(e.errno, operation, e.extack);
          return { msgs, interrupted };
        }
        if (m.type === NLMSG_NOOP) continue;
        if (m.type === NLMSG_OVERRUN) throw new NetlinkDecodeError('receive buffer overrun during a dump');
        msgs.push(m);
      }
    }
  }

  /**
   * Sends one request with NLM_F_ACK from a thread of its own (or a process: detachedSendsFrom) and resolves once
   * it is on its way, for a request the kernel works on long inside sendmsg(). `sent` is an fd that becomes
   * readable with a 64-bit 1 once sendmsg() returned (1 + errno if it failed; see native netlinkSendDetached) to
   * poll with the socket; take the answer with takeAck(seq) once the socket is readable. The caller owns and
   * closes `sent`.
   */
  async sendDetached(type: number, flags: number, fixed: Buffer, attrs: Attr[]): Promise<{ seq: number; sent: number }> {
    if (this.fd < 0) throw new Error('netlink socket is closed');
    const seq = this.nextSeq();
    const msg = encodeMessage(type, flags | NLM_F_REQUEST | NLM_F_ACK, seq, fixed, attrs);
    const fromProcess = this.detachedSendsFrom === 'process' ? await sendFromOwnProcess(this.fd, msg) : null;
    return { seq, sent: fromProcess ?? native().netlinkSendDetached(this.fd, msg) };
  }

  /**
   * The answer to request `seq` if it is queued: undefined while it is not, null for an ACK; throws its
   * NetlinkError. Never waits.
   */
  takeAck(seq: number, operation: string): null | undefined {
    for (const m of this.recvQueued()) {
      if (m.seq !== seq || m.type !== NLMSG_ERROR) continue;
      const e = decodeError(m);
      if (e.errno !== 0) throw new NetlinkError(e.errno, operation, e.extack);
      return null;
    }
    return undefined;
  }

  /** Every message queued on the socket now (notifications, for a monitor); never waits. */
  recvQueued(): NlMsg[] {
    if (this.fd < 0) throw new Error('netlink socket is closed');
    const out: NlMsg[] = [];
    for (let data = native().netlinkRecvNow(this.fd); data; data = native().netlinkRecvNow(this.fd)) out.push(...splitMessages(data));
    return out;
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0 || 1;
    return this.seq;
  }

  private send(buf: Buffer): void {
    if (this.fd < 0) throw new Error('netlink socket is closed');
    native().netlinkSend(this.fd, buf);
  }

  private async recvMessages(): Promise<NlMsg[]> {
    if (this.fd < 0) throw new Error('netlink socket is closed');
    // rtnetlink and nfnetlink answer inside sendmsg(): the reply is normally queued already, and taking it
    // at once saves a worker-thread round trip per message; only a reply not there yet is waited for.
    const data = this.blocking
      ? native().netlinkRecvSync(this.fd)
      : (native().netlinkRecvNow(this.fd) ?? (await native().netlinkRecv(this.fd)));
    return splitMessages(data);
  }

  /** True while a request is queued or waiting for its answer. */
  get busy(): boolean {
    return this.pending > 0;
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    this.pending++;
    const run = this.queue.then(fn, fn).finally(() => this.pending--);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
