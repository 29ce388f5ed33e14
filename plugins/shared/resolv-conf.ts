// Read DNS settings from a resolv.conf-style file (host-local's "resolvConf" key).
import { readFileSync } from 'node:fs';
import type { Dns } from '../cni/types.js';

export function parseResolvConf(text: string): Dns {
  const dns: Dns = {};
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    if (!line) continue;
    const [key, ...vals] = line.split(/\s+/);
    if (key === 'nameserver' && vals[0]) (dns.nameservers ??= []).push(vals[0]);
    else if (key === 'domain' && vals[0]) dns.domain = vals[0];
    else if (key === 'search') dns.search = vals;
    else if (key === 'options') (dns.options ??= []).push(...vals);
  }
  return dns;
}

export function readResolvConf(path: string): Dns {
  return parseResolvConf(readFileSync(path, 'utf8'));
}
