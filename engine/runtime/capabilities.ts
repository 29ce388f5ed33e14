// Linux capabilities by name (linux/capability.h numbering), Docker's default set, and --cap-add/--cap-drop.
import { TsnetError } from '../../common/errors.js';

/** Every capability this kernel ABI numbers, in bit order (CAP_CHOWN = bit 0 … CAP_CHECKPOINT_RESTORE = 40). */
export const ALL_CAPS = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
] as const;

export type Capability = (typeof ALL_CAPS)[number];

/** What a Docker container gets by default (moby's daemon/pkg/oci/caps): 14 capabilities, CapEff a80425fb. */
export const DEFAULT_CAPS: readonly Capability[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** `net_admin`, `NET_ADMIN`, `CAP_NET_ADMIN` → `CAP_NET_ADMIN`; `all` → 'ALL'. */
export function capName(s: string, flag = '--cap-add'): Capability | 'ALL' {
  const up = s.trim().toUpperCase();
  if (up === 'ALL' || up === 'CAP_ALL') return 'ALL';
  const name = (up.startsWith('CAP_') ? up : `CAP_${up}`) as Capability;
  if (!ALL_CAPS.includes(name))
    throw new TsnetError(
      `${flag} ${s}`,
      'not a Linux capability',
      'use a name capabilities(7) lists, such as NET_ADMIN or SYS_PTRACE, or ALL',
    );
  return name;
}

/**
 * The set a container runs with, as Docker computes it: `--cap-add ALL` = every capability but the dropped
 * ones; `--cap-drop ALL` = only the added ones; otherwise the default minus the dropped plus the added (an
 * added capability wins over the same one dropped). Sorted by bit.
 */
export function resolveCaps(add: string[] = [], drop: string[] = []): Capability[] {
  const adds = add.map((s) => capName(s, '--cap-add'));
  const drops = drop.map((s) => capName(s, '--cap-drop'));
  let set: Set<Capability | 'ALL'>;
  if (adds.includes('ALL')) set = new Set(ALL_CAPS.filter((c) => !drops.includes(c)));
  else if (drops.includes('ALL')) set = new Set(adds);
  else set = new Set([...DEFAULT_CAPS.filter((c) => !drops.includes(c)), ...adds]);
  return ALL_CAPS.filter((c) => set.has(c));
}

/** The set as the 64-bit mask /proc/PID/status shows (CapEff), 16 hex digits. */
export function capMask(caps: readonly Capability[]): string {
  let m = 0n;
  for (const c of caps) m |= 1n << BigInt(ALL_CAPS.indexOf(c));
  return m.toString(16).padStart(16, '0');
}
