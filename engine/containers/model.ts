// What is stored about a container: config.json (what was asked, never changes) and state.json (what happened).
import type { Attachment } from '../network/driver.js';
import type { PortMapping } from '../network/ports.js';
import type { CgroupSet, Limits } from '../runtime/cgroups.js';
import type { Security } from '../runtime/security.js';

export interface ContainerConfig {
  id: string;
  name: string;
  image: string;
  imageId: string;
  created: string;
  /** The full argv (entrypoint + cmd). */
  cmd: string[];
  env: string[];
  workdir: string;
  hostname: string;
  /** --net as given (parsed again with parseNetMode). */
  net: string;
  ip?: string;
  /** --ip6: a static IPv6 address on a dual-stack network. */
  ip6?: string;
  /** --mac-address: eth0's MAC address. */
  mac?: string;
  /** --network-alias (the first network). */
  aliases?: string[];
  ports: PortMapping[];
  /** --expose: container ports ('80/tcp') exposed besides the image's (inspect's Config.ExposedPorts). */
  exposed?: string[];
  limits: Limits;
  /** Capabilities, seccomp, no_new_privs, masked paths (absent in containers created before them: unconfined). */
  security?: Security;
  autoRemove: boolean;
  detached: boolean;
  /** --dns / --dns-search / --dns-option (each list replaces what the container would get otherwise). */
  dns?: DnsOverrides;
  /** --add-host NAME:IP. */
  extraHosts?: string[];
}

export interface DnsOverrides {
  servers: string[];
  search: string[];
  options: string[];
}

export type Status = 'created' | 'running' | 'exited' | 'removing';

export interface ContainerState {
  status: Status;
  /** Container pid 1 as seen from the host. */
  pid?: number;
  pidStart?: string;
  /** The helper's supervisor process (host pid ns), which writes the exit file and runs the exit hook. */
  supervisorPid?: number;
  supervisorStart?: string;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  oomKilled?: boolean;
  error?: string;
  cgroup?: CgroupSet;
  network?: Attachment;
  /** True once the exit hook (network detach, cgroup removal) has run. */
  cleanedUp?: boolean;
}

export interface Container {
  config: ContainerConfig;
  state: ContainerState;
}
