// node:crypto, loaded on first use: requiring it costs a plugin's start ~7 ms (OpenSSL bindings, ciphers,
// streams), and most calls never need it (random names come from /dev/urandom, see random-name.ts).
import { createRequire } from 'node:module';

let mod: typeof import('node:crypto') | undefined;

export function nodeCrypto(): typeof import('node:crypto') {
  mod ??= createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
  return mod;
}
