// Node's heavier built-in modules, each loaded on its first use. A static import of one stays at the top of the
// CLI's bundle, so every command would load it at start-up — node:child_process (with net, dgram and streams),
// node:http, node:dgram, node:crypto: ~2 ms of a `tsnet run` that uses none of them (bench/README.md).
import { createRequire } from 'node:module';

let req: NodeJS.Require | undefined;
const load = (id: string): unknown => (req ??= createRequire(import.meta.url))(id);

export const childProcess = (): typeof import('node:child_process') => load('node:child_process') as typeof import('node:child_process');
export const http = (): typeof import('node:http') => load('node:http') as typeof import('node:http');
export const dgram = (): typeof import('node:dgram') => load('node:dgram') as typeof import('node:dgram');
export const nodeCrypto = (): typeof import('node:crypto') => load('node:crypto') as typeof import('node:crypto');
