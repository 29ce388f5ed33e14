// Run by ipam-state.test.ts in a private mount namespace in which $TSNET_FULL_DIR is a small tmpfs (gone with the
// namespace): tsnet-ipam fills a store there, the disk is filled up, ADDs go on until one fails for want of
// space, and then every address is released — in-process as the bridge plugin does, and by the exec'd plugin.
// Prints one JSON line of what happened; the test judges it.
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ipamAdd, ipamDel } from '../plugins/shared/ipam-cni.js';
import { CniError, type CniArgs, type NetConf } from '../plugins/cni/types.js';
import { IpamStore } from '../ipam/store.js';
import { OUR_CNI } from './cni-exec.js';

const dir = process.env.TSNET_FULL_DIR;
if (!dir) throw new Error('TSNET_FULL_DIR is not set: this is a child of netns-tests/ipam-state.test.ts');

const network = 'full';
const conf: NetConf = {
  cniVersion: '1.0.0',
  name: network,
  type: 'bridge',
  ipam: { type: 'tsnet-ipam', subnet: '10.231.0.0/16', dataDir: dir },
};
const args = (cid: string, extra: Record<string, string> = {}): CniArgs => ({
  command: 'ADD',
  containerId: cid,
  netns: '',
  ifname: 'eth0',
  args: extra,
  path: [OUR_CNI],
});
const describe = (e: unknown) => (e instanceof CniError ? { code: e.code, msg: e.message, details: e.details } : { msg: String(e) });
const noSpace = (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOSPC';

/** Writes until the filesystem refuses: big pieces, then single bytes (the last page of the file fills too). */
function fill(path: string): void {
  const fd = openSync(path, 'w');
  try {
    for (const piece of [Buffer.alloc(64 * 1024), Buffer.alloc(1)]) {
      for (;;) {
        try {
          writeSync(fd, piece);
        } catch (e) {
          if (noSpace(e)) break;
          throw e;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}

const held: string[] = [];
for (let i = 0; i < 150; i++) {
  await ipamAdd(conf, args(`c${i}`));
  held.push(`c${i}`);
}
const filler = join(dir, 'filler');
fill(filler);
let full = false;
try {
  writeFileSync(join(dir, 'probe'), 'x');
} catch (e) {
  full = noSpace(e);
}
rmSync(join(dir, 'probe'), { force: true });

// ADDs on the full disk: each appends a line, until one needs a page the disk does not have.
let addError: ReturnType<typeof describe> | undefined;
for (let i = 0; i < 500 && !addError; i++) {
  try {
    await ipamAdd(conf, args(`late${i}`));
    held.push(`late${i}`);
  } catch (e) {
    addError = describe(e);
  }
}

// Every address released while the disk stays full: the last three by the exec'd plugin.
const delFailures: unknown[] = [];
const byExec = held.splice(-3);
for (const cid of held) {
  try {
    await ipamDel(conf, { ...args(cid), command: 'DEL' });
  } catch (e) {
    delFailures.push({ cid, ...describe(e) });
  }
}
for (const cid of byExec) {
  const r = spawnSync(join(OUR_CNI, 'tsnet-ipam'), [], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', CNI_COMMAND: 'DEL', CNI_CONTAINERID: cid, CNI_IFNAME: 'eth0', CNI_PATH: OUR_CNI },
    input: JSON.stringify(conf),
    encoding: 'utf8',
  });
  if (r.status !== 0) delFailures.push({ cid, exec: true, status: r.status, out: r.stdout + r.stderr });
}
const store = new IpamStore(join(dir, network));
const heldAfterDel = (await store.read()).size;

// Space again: the first container's address is free, and the space kept for releases is whole again.
rmSync(filler);
let again: unknown;
try {
  again = (await ipamAdd(conf, args('again', { IP: '10.231.0.2' }))).ips?.[0]?.address;
} catch (e) {
  again = describe(e);
}
let reserve: number | undefined;
try {
  reserve = statSync(join(store.dir, 'reserve')).size;
} catch {
  reserve = undefined;
}
console.log(
  JSON.stringify({
    full,
    added: 150,
    addedWhenFull: byExec.length + held.length - 150,
    addError,
    delFailures,
    heldAfterDel,
    again,
    reserve,
  }),
);
