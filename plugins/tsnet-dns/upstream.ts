// Names the records do not hold go to the host's resolvers, as Docker's embedded DNS forwards them: the
// nameservers of /etc/resolv.conf as the server process sees it. The server runs in the host's network
// namespace (it binds the bridges' gateway addresses there), so a loopback stub such as systemd-resolved's
// 127.0.0.53 is reachable from it and is used as it is — with its caching and split DNS — instead of being
// dropped the way a container's own resolv.conf must drop it. The file is read again when it changes
// (NetworkManager, resolvconf, DHCP). Queries are relayed as they came (same id, same EDNS): each one on a
// fresh socket of its own, and only a reply from that upstream with the query's id is taken.
import ipaddr from 'ipaddr.js';
import { connect } from 'node:net';
import { readFileSync, statSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { dgram } from '../../common/builtins.js';

export interface Upstreams {
  servers: string[];
  /** Per server try, ms. */
  timeoutMs: number;
  /** Rounds over the list. */
  attempts: number;
}

/** Longest we wait for one upstream: a container's own resolver gives up after 5 s (glibc) and retries. */
const MAX_TIMEOUT_MS = 2000;

/** The nameservers and timing options of resolv.conf text; `exclude` drops our own listening addresses (a loop). */
export function parseUpstreams(text: string, exclude: ReadonlySet<string> = new Set()): Upstreams {
  const servers: string[] = [];
  let timeoutMs = MAX_TIMEOUT_MS;
  let attempts = 1;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...vals] = line.split(/\s+/);
    if (key === 'nameserver' && vals[0]) {
      const given = vals[0].replace(/%.*$/, ''); // a zone index (fe80::1%eth0) names a host interface
      if (!isIPv4(given) && !isIPv6(given)) continue;
      const addr = ipaddr.process(given).toString(); // the form a reply's source address is reported in
      if (!exclude.has(addr) && !servers.includes(addr)) servers.push(addr);
    } else if (key === 'options') {
      for (const o of vals) {
        const [k, v] = o.split(':');
        const n = Number(v);
        if (k === 'timeout' && Number.isInteger(n) && n > 0) timeoutMs = Math.min(n * 1000, MAX_TIMEOUT_MS);
        if (k === 'attempts' && Number.isInteger(n) && n > 0) attempts = Math.min(n, 3);
      }
    }
  }
  return { servers, timeoutMs, attempts };
}

/** resolv.conf, read again whenever its identity, size or mtime changes. */
export class HostResolvConf {
  private key = '';
  private cached: Upstreams = { servers: [], timeoutMs: MAX_TIMEOUT_MS, attempts: 1 };

  constructor(
    readonly path = '/etc/resolv.conf',
    private readonly exclude: () => ReadonlySet<string> = () => new Set(),
  ) {}

  current(): Upstreams {
    let key: string;
    try {
      const st = statSync(this.path);
      key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      key = 'absent';
    }
    if (key !== this.key) {
      let text = '';
      try {
        text = readFileSync(this.path, 'utf8');
      } catch {
        /* no resolv.conf: no upstreams */
      }
      this.cached = parseUpstreams(text, this.exclude());
      this.key = key;
    }
    return this.cached;
  }
}

function sameId(a: Buffer, b: Buffer): boolean {
  return a.length >= 2 && b.length >= 2 && a[0] === b[0] && a[1] === b[1];
}

function udpOnce(server: string, query: Buffer, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const sock = dgram().createSocket(isIPv6(server) ? 'udp6' : 'udp4');
    let done = false;
    const finish = (r: Buffer | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.close();
      resolve(r);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    sock.on('error', () => finish(undefined));
    sock.on('message', (msg, rinfo) => {
      if (rinfo.address === server && rinfo.port === 53 && sameId(msg, query)) finish(msg);
    });
    try {
      sock.send(query, 53, server, (err) => err && finish(undefined));
    } catch {
      finish(undefined);
    }
  });
}

function tcpOnce(server: string, query: Buffer, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const sock = connect({ host: server, port: 53 });
    let buf: Buffer = Buffer.alloc(0);
    let done = false;
    const finish = (r: Buffer | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    sock.on('error', () => finish(undefined));
    sock.on('connect', () => sock.write(tcpFrame(query)));
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const msg = nextTcpMessage(buf);
      if (msg) finish(sameId(msg.message, query) ? msg.message : undefined);
    });
    sock.on('end', () => finish(undefined));
  });
}

/** DNS over TCP frames each message with its 2-byte length (RFC 1035 4.2.2). */
export function tcpFrame(msg: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(msg.length);
  return Buffer.concat([len, msg]);
}

/** The first whole message in a TCP stream buffer, and what follows it; undefined until it is all there. */
export function nextTcpMessage(buf: Buffer): { message: Buffer; rest: Buffer } | undefined {
  if (buf.length < 2) return undefined;
  const len = buf.readUInt16BE(0);
  if (buf.length < 2 + len) return undefined;
  return { message: buf.subarray(2, 2 + len), rest: buf.subarray(2 + len) };
}

/** The upstreams' answer to `query` (tried in order, `attempts` rounds), or undefined when none answered. */
export async function forward(query: Buffer, up: Upstreams, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
  for (let round = 0; round < up.attempts; round++) {
    for (const server of up.servers) {
      const r = transport === 'udp' ? await udpOnce(server, query, up.timeoutMs) : await tcpOnce(server, query, up.timeoutMs);
      if (r) return r;
    }
  }
  return undefined;
}
