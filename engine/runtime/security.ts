// What confines a container, Docker's defaults: 14 capabilities, no_new_privs, the default seccomp profile,
// masked and read-only paths under /proc and /sys, a device allow-list. `--privileged`, `--cap-add`,
// `--cap-drop` and `--security-opt` change them as they do for `docker run`.
import { existsSync, readdirSync } from 'node:fs';
import { TsnetError } from '../../common/errors.js';
import { ALL_CAPS, type Capability, capMask, resolveCaps } from './capabilities.js';
import type { InitConfig } from './init-config.js';
import { DEFAULT_PROFILE, loadSeccompFile, type SeccompProfile, seccompInitConfig } from './seccomp.js';

export interface SecurityOptions {
  privileged?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  /** `--security-opt` values as given. */
  securityOpt?: string[];
}

/** Stored in config.json: what the container was created with (exec gets the same). */
export interface Security {
  privileged: boolean;
  capAdd: string[];
  capDrop: string[];
  securityOpt: string[];
  /** The capabilities the container runs with; 'all' (--privileged): every one the engine holds. */
  capabilities: Capability[] | 'all';
  noNewPrivileges: boolean;
  /** 'default' (Docker's profile), 'unconfined', or a profile read from a file at `run`. */
  seccomp: 'default' | 'unconfined' | { file: string; profile: SeccompProfile };
  /** Docker's masked and read-only paths (empty with --privileged or systempaths=unconfined). */
  maskedPaths: string[];
  readonlyPaths: string[];
}

/** Docker's masked paths (moby's daemon/pkg/oci/defaults.go); per-CPU thermal_throttle dirs are added where they exist. */
export const MASKED_PATHS = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/interrupts',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/sys/devices/virtual/powercap',
  '/sys/firmware',
];
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/**
 * The device cgroup's allow-list (cgroup v1 `devices.allow`, after `devices.deny a`): any node may be made
 * (mknod), only these opened — null, zero, full, random, urandom, tty, console, ptmx and the pts.
 */
export const DEVICE_ALLOW = [
  'c *:* m',
  'b *:* m',
  'c 1:3 rwm',
  'c 1:5 rwm',
  'c 1:7 rwm',
  'c 1:8 rwm',
  'c 1:9 rwm',
  'c 5:0 rwm',
  'c 5:1 rwm',
  'c 5:2 rwm',
  'c 136:* rwm',
];

function thermalThrottleDirs(): string[] {
  const base = '/sys/devices/system/cpu';
  try {
    return readdirSync(base)
      .filter((d) => /^cpu\d+$/.test(d))
      .map((d) => `${base}/${d}/thermal_throttle`)
      .filter((p) => existsSync(p));
  } catch {
    return [];
  }
}

const OPT_FIX = 'use seccomp=unconfined|FILE, no-new-privileges[=true|false] or systempaths=unconfined';

/** Flags → the container's Security, checked (a seccomp file is read and parsed here, at `run`). */
export function resolveSecurity(o: SecurityOptions = {}): Security {
  const securityOpt = o.securityOpt ?? [];
  let seccomp: Security['seccomp'] = o.privileged ? 'unconfined' : 'default';
  let noNewPrivileges = !o.privileged;
  let systemPaths = !o.privileged;
  for (const opt of securityOpt) {
    const m = /^([a-z-]+)(?:[=:](.*))?$/.exec(opt);
    const [key, value] = m ? [m[1], m[2]] : ['', undefined];
    if (key === 'seccomp') {
      if (!value)
        throw new TsnetError(`--security-opt ${opt}`, 'no profile given', 'write seccomp=unconfined or seccomp=/path/profile.json');
      // as Docker: --privileged runs unfiltered unless a profile file is given explicitly
      seccomp =
        value === 'unconfined'
          ? 'unconfined'
          : value === 'default'
            ? o.privileged
              ? 'unconfined'
              : 'default'
            : { file: value, profile: loadSeccompFile(value) };
    } else if (key === 'no-new-privileges') {
      if (value !== undefined && value !== 'true' && value !== 'false')
        throw new TsnetError(`--security-opt ${opt}`, 'expected true or false', 'write no-new-privileges=true or no-new-privileges=false');
      noNewPrivileges = value !== 'false';
    } else if (key === 'systempaths') {
      if (value !== 'unconfined') throw new TsnetError(`--security-opt ${opt}`, 'only systempaths=unconfined is known', OPT_FIX);
      systemPaths = false;
    } else if (key === 'apparmor' || key === 'label') {
      throw new TsnetError(`--security-opt ${opt}`, 'tsnet applies no LSM (AppArmor, SELinux) profiles', 'drop this option');
    } else {
      throw new TsnetError(`--security-opt ${opt}`, 'not a known security option', OPT_FIX);
    }
  }
  return {
    privileged: !!o.privileged,
    capAdd: o.capAdd ?? [],
    capDrop: o.capDrop ?? [],
    securityOpt,
    // --privileged: every capability (as Docker: --cap-add/--cap-drop do not apply); checked names either way
    capabilities: o.privileged ? (resolveCaps(o.capAdd, o.capDrop), 'all') : resolveCaps(o.capAdd, o.capDrop),
    noNewPrivileges,
    seccomp,
    maskedPaths: systemPaths ? [...MASKED_PATHS, ...thermalThrottleDirs()] : [],
    readonlyPaths: systemPaths ? READONLY_PATHS : [],
  };
}

/**
 * The init helper's confinement keys (run and exec). Undefined security = a container from before them: none.
 * `seccompCache`: where the helper keeps compiled filters.
 */
export function confinementInitConfig(sec: Security | undefined, seccompCache?: string): InitConfig {
  if (!sec) return {};
  const caps = sec.capabilities === 'all' ? [...ALL_CAPS] : sec.capabilities;
  const profile = sec.seccomp === 'unconfined' ? undefined : sec.seccomp === 'default' ? DEFAULT_PROFILE : sec.seccomp.profile;
  return {
    caps: sec.capabilities === 'all' ? undefined : capMask(caps),
    no_new_privs: sec.noNewPrivileges ? 1 : undefined,
    ...(profile ? { ...seccompInitConfig(profile, caps), seccomp_cache: seccompCache } : {}),
  };
}

/** The init helper's rootfs keys for `run`: masked and read-only paths, /sys read-write when privileged. */
export function rootfsInitConfig(sec: Security | undefined): InitConfig {
  if (!sec) return {};
  return { mask: sec.maskedPaths, ro: sec.readonlyPaths, sys_rw: sec.privileged ? 1 : undefined };
}

/** The device cgroup allow-list, or undefined (every device: --privileged). */
export function deviceAllowList(sec: Security): string[] | undefined {
  return sec.privileged ? undefined : DEVICE_ALLOW;
}
