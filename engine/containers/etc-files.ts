// The /etc/hosts, /etc/resolv.conf and /etc/hostname the engine writes for a container (bind-mounted by the
// init helper). Loopback nameservers (systemd-resolved's 127.0.0.53) are useless in a separate netns, so
// they are dropped there, falling back to public resolvers like docker does.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Attachment } from '../network/driver.js';

export function hostsFile(hostname: string, att: Attachment): string {
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
  ];
  const ips = Object.values(att.networks).map((n) => n.ip);
  if (ips.length) for (const ip of ips) lines.push(`${ip}\t${hostname}`);
  else lines.push(`127.0.1.1\t${hostname}`);
  return `${lines.join('\n')}\n`;
}

export function resolvConf(att: Attachment, hostResolv: string, dnsOverride?: string[]): string {
  if (dnsOverride?.length) {
    // --dns: these nameservers instead of the network's resolver or the host's; search and options stay.
    const rest = att.dns?.nameservers?.length
      ? [
          ...(att.dns.search?.length ? [`search ${att.dns.search.join(' ')}`] : []),
          ...(att.dns.options?.length ? [`options ${att.dns.options.join(' ')}`] : []),
        ]
      : hostResolv.split('\n').filter((l) => /^\s*(search|domain|options)\s/.test(l));
    return `${[...dnsOverride.map((n) => `nameserver ${n}`), ...rest].join('\n')}\n`;
  }
  if (att.dns?.nameservers?.length) {
    const out = att.dns.nameservers.map((n) => `nameserver ${n}`);
    if (att.dns.search?.length) out.push(`search ${att.dns.search.join(' ')}`);
    if (att.dns.options?.length) out.push(`options ${att.dns.options.join(' ')}`);
    return `${out.join('\n')}\n`;
  }
  if (att.netnsPath === 'host') return hostResolv;
  const kept = hostResolv.split('\n').filter((l) => l.trim() && !/^\s*nameserver\s+(127\.|::1\b)/.test(l));
  if (!kept.some((l) => /^\s*nameserver\s/.test(l))) kept.push('nameserver 8.8.8.8', 'nameserver 8.8.4.4');
  return `${kept.join('\n').trim()}\n`;
}

function readHostResolv(): string {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}

/** Writes the three files into dir; returns bind specs for the init helper (DST<TAB>SRC). */
export function writeEtcFiles(dir: string, hostname: string, att: Attachment, dns?: string[]): string[] {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'hosts'), hostsFile(hostname, att));
  writeFileSync(join(dir, 'resolv.conf'), resolvConf(att, readHostResolv(), dns));
  writeFileSync(join(dir, 'hostname'), `${hostname}\n`);
  return ['hosts', 'resolv.conf', 'hostname'].map((f) => `/etc/${f}\t${join(dir, f)}`);
}
