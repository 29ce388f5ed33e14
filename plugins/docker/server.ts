// The libnetwork remote driver's front door: HTTP/1.1 + JSON over a unix socket (Node's http server).
// POST /Plugin.Activate, /NetworkDriver.*, /IpamDriver.*; an unknown method is a 404, a failure is a 200 with
// {"Err": "…"} (what libnetwork reads), whose text names the thing, the reason and the fix. The driver keeps no
// state in memory: every request reads and writes the records on disk (state.ts) and the IPAM store (ipam/).
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { chmodSync, existsSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { NetworkRegistry, type HostUsage } from '../../ipam/networks.js';
import { http } from '../../common/builtins.js';
import { stateRoot } from '../../common/paths.js';
import { IpamDriver } from './ipam.js';
import { NetworkDriver } from './network.js';
import { DriverState } from './state.js';
import { reclaim } from './gc.js';
import { PluginError } from '../shared/errors.js';

export const DEFAULT_DOCKER_SOCKET = '/run/docker/plugins/tsnet.sock';
const MAX_BODY = 1 << 20;
const CONTENT_TYPE = 'application/vnd.docker.plugins.v1.2+json';

export interface DockerPluginOptions {
  socket?: string;
  root?: string;
  hostUsage?: HostUsage;
  log?: (line: string) => void;
  /**
   * Once listening, before any request is answered: reclaim what a driver killed mid-call left (gc.ts). After
   * listening, so that it never runs beside another driver answering on the socket.
   */
  reclaim?: boolean;
}

type Handler = (req: Record<string, unknown>) => unknown;

export function handlers(o: DockerPluginOptions): Map<string, Handler> {
  const root = stateRoot(o.root);
  const reg = new NetworkRegistry(root);
  const ipam = new IpamDriver(reg, o.hostUsage);
  const net = new NetworkDriver(new DriverState(root), reg);
  return new Map<string, Handler>([
    ['Plugin.Activate', () => ({ Implements: ['NetworkDriver', 'IpamDriver'] })],
    ['NetworkDriver.GetCapabilities', () => net.capabilities()],
    ['NetworkDriver.CreateNetwork', (r) => net.createNetwork(r)],
    ['NetworkDriver.DeleteNetwork', (r) => net.deleteNetwork(r)],
    ['NetworkDriver.CreateEndpoint', (r) => net.createEndpoint(r)],
    ['NetworkDriver.DeleteEndpoint', (r) => net.deleteEndpoint(r)],
    ['NetworkDriver.EndpointOperInfo', (r) => net.endpointOperInfo(r)],
    ['NetworkDriver.Join', (r) => net.join(r)],
    ['NetworkDriver.Leave', (r) => net.leave(r)],
    ['NetworkDriver.ProgramExternalConnectivity', (r) => net.programExternalConnectivity(r)],
    ['NetworkDriver.RevokeExternalConnectivity', (r) => net.revokeExternalConnectivity(r)],
    ['NetworkDriver.DiscoverNew', () => ({})],
    ['NetworkDriver.DiscoverDelete', () => ({})],
    ['IpamDriver.GetCapabilities', () => ipam.capabilities()],
    ['IpamDriver.GetDefaultAddressSpaces', () => ipam.defaultAddressSpaces()],
    ['IpamDriver.RequestPool', (r) => ipam.requestPool(r)],
    ['IpamDriver.ReleasePool', (r) => ipam.releasePool(r)],
    ['IpamDriver.RequestAddress', (r) => ipam.requestAddress(r)],
    [
      'IpamDriver.ReleaseAddress',
      async (r) => {
        const answer = await ipam.releaseAddress(r);
        await net.addressReleased(r.PoolID, r.Address);
        return answer;
      },
    ],
  ]);
}

function parseJson(text: string): { value: unknown } | { error: string } {
  try {
    return { value: text.trim() === '' ? {} : (JSON.parse(text) as unknown) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error(`request body over ${MAX_BODY} bytes`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Requests that change the kernel or the records run one at a time: Docker sends them in order anyway. */
function serialize(): <T>(fn: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return (fn) => {
    const p = tail.then(fn, fn);
    tail = p.catch(() => undefined);
    return p;
  };
}

export function createDockerPluginServer(o: DockerPluginOptions = {}): Server {
  const table = handlers(o);
  const queue = serialize();
  const log = o.log ?? (() => undefined);
  const server = http().createServer((req, res) => {
    const method = (req.url ?? '').replace(/^\//, '').split('?')[0]!;
    const h = table.get(method);
    if (req.method !== 'POST' || !h) {
      readBody(req).catch(() => undefined);
      send(res, 404, {
        Err: `${req.method} /${method}: not a method of the tsnet Docker driver (it implements NetworkDriver and IpamDriver)`,
      });
      return;
    }
    void queue(async () => {
      try {
        const text = await readBody(req);
        const parsed = parseJson(text);
        if ('error' in parsed) throw new PluginError(`${method}`, `the request body is not JSON (${parsed.error})`, 'send a JSON object');
        const body = parsed.value;
        if (!body || typeof body !== 'object' || Array.isArray(body))
          throw new Error(`${method}: the request body is not a JSON object; send one`);
        send(res, 200, await h(body as Record<string, unknown>));
      } catch (e) {
        const msg = (e as Error).message;
        log(`${method}: ${msg}`);
        if (!res.headersSent) send(res, 200, { Err: msg });
      }
    });
  });
  if (o.reclaim)
    // 'listening' comes before any connection is accepted: every request queues behind this.
    server.once('listening', () => {
      void queue(async () => {
        const root = stateRoot(o.root);
        const gone = await reclaim(new DriverState(root), new NetworkRegistry(root));
        if (gone.endpoints.length) log(`removed endpoint(s) Docker had given up: ${gone.endpoints.join(' ')}`);
        if (gone.veths.length) log(`reclaimed veth(s) without an endpoint record: ${gone.veths.join(' ')}`);
        if (gone.addresses.length) log(`released address(es) no endpoint holds: ${gone.addresses.join(', ')}`);
      }).catch((e: Error) => log(`reclaiming what a killed driver left: ${e.message}`));
    });
  return server;
}

/** True when something accepts connections on `socket`. */
function answering(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(socket);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/**
 * Listens on `socket` (root only), replacing a stale socket file — not one a running driver answers on;
 * resolves once listening.
 */
export async function listenDockerPlugin(server: Server, socket: string): Promise<void> {
  mkdirSync(dirname(socket), { recursive: true, mode: 0o755 });
  if (existsSync(socket) && lstatSync(socket).isSocket()) {
    if (await answering(socket))
      throw new PluginError(
        `socket ${socket}`,
        'another process (a tsnet docker-plugin already running?) answers on it',
        'stop that one first, or give this one another --socket',
      );
    unlinkSync(socket);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(socket, 0o600);
}

/** `tsnet docker-plugin`: serve until SIGINT/SIGTERM, then remove the socket. Returns the exit status. */
export async function runDockerPlugin(o: DockerPluginOptions = {}): Promise<number> {
  const socket = o.socket ?? DEFAULT_DOCKER_SOCKET;
  const log = o.log ?? ((l: string) => process.stderr.write(`tsnet docker-plugin: ${l}\n`));
  const server = createDockerPluginServer({ ...o, log, reclaim: true });
  await listenDockerPlugin(server, socket);
  log(`listening on ${socket}`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  server.close();
  server.closeAllConnections();
  try {
    unlinkSync(socket);
  } catch {
    /* gone already */
  }
  return 0;
}
