// The /etc/hosts, /etc/resolv.conf and /etc/hostname the engine writes for a container (bind-mounted by the
// init helper). Loopback nameservers (systemd-resolved's 127.0.0.53) are useless in a separate netns, so
// they are dropped there, falling back to public resolvers like docker does.
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Attachment } from '../network/driver.js';

const ETC_FILES = ['hosts', 'resolv.conf', 'hostname'];

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

export function resolvConf(att: Attachment, hostResolv: string): string {
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

/** What --dns, --dns-search, --dns-option and --add-host change in the files. */
export interface EtcOverrides {
  dns?: { servers: string[]; search: string[]; options: string[] };
  extraHosts?: string[];
}

/** resolv.conf with Docker's overrides: each of --dns, --dns-search, --dns-option replaces its own lines. */
export function applyDnsOverrides(resolv: string, dns: EtcOverrides['dns']): string {
  if (!dns) return resolv;
  const lines = resolv.split('\n').filter((l) => l.trim());
  const keep = (re: RegExp, replace: boolean) => (replace ? lines.filter((l) => !re.test(l)) : lines.filter((l) => re.test(l)));
  const ns = dns.servers.length ? dns.servers.map((n) => `nameserver ${n}`) : keep(/^\s*nameserver\s/, false);
  const search = dns.search.length
    ? dns.search.filter((d) => d !== '.').length
      ? [`search ${dns.search.filter((d) => d !== '.').join(' ')}`]
      : []
    : keep(/^\s*(search|domain)\s/, false);
  const opts = dns.options.length ? [`options ${dns.options.join(' ')}`] : keep(/^\s*options\s/, false);
  const other = lines.filter((l) => !/^\s*(nameserver|search|domain|options)\s/.test(l));
  return `${[...other, ...ns, ...search, ...opts].join('\n')}\n`;
}

/** /etc/hosts with --add-host NAME:IP lines appended, as Docker writes them (IP<TAB>NAME). */
export function withExtraHosts(hosts: string, extra: string[] = []): string {
  return extra.length ? `${hosts}${extra.map((h) => `${h.slice(h.indexOf(':') + 1)}\t${h.slice(0, h.indexOf(':'))}\n`).join('')}` : hosts;
}

/** The three files, made empty where missing: what the init helper binds before their content is known. */
export function createEtcFiles(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const f of ETC_FILES) closeSync(openSync(join(dir, f), 'a'));
}

/**
 * Writes the three files into dir — in place (same inodes: the init helper may have bound them already);
 * returns bind specs for the init helper (DST<TAB>SRC).
 */
export function writeEtcFiles(dir: string, hostname: string, att: Attachment, over: EtcOverrides = {}): string[] {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'hosts'), withExtraHosts(hostsFile(hostname, att), over.extraHosts));
  writeFileSync(join(dir, 'resolv.conf'), applyDnsOverrides(resolvConf(att, readHostResolv()), over.dns));
  writeFileSync(join(dir, 'hostname'), `${hostname}\n`);
  return etcBinds(dir);
}

/** The init helper's bind specs (DST<TAB>SRC) of the three files written into dir. */
export function etcBinds(dir: string): string[] {
  return ETC_FILES.map((f) => `/etc/${f}\t${join(dir, f)}`);
}
