// The CNI shim's own failures are CNI failures too: the spec's error JSON on stdout, with the config's
// cniVersion, and a non-zero exit — here when neither tsnetd nor a standalone plugin can answer.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO } from './cni-exec.js';
import { world } from './harness.js';

const SHIM = join(REPO, 'native', 'build', 'Release', 'tsnet-cni-shim');

test(
  'the shim answers with spec error JSON when no daemon and no standalone plugin can',
  { skip: existsSync(SHIM) ? false : 'shim not built (npm run build:native)' },
  (t) => {
    const w = world(t);
    const bin = join(w.tmpdir(), 'bin');
    mkdirSync(bin);
    copyFileSync(SHIM, join(bin, 'bridge'));
    const r = spawnSync(join(bin, 'bridge'), [], {
      env: {
        PATH: process.env.PATH,
        CNI_COMMAND: 'ADD',
        CNI_CONTAINERID: 'a',
        CNI_NETNS: '/run/netns/none',
        CNI_IFNAME: 'eth0',
        CNI_PATH: bin,
        TSNET_SOCKET: join(bin, 'no.sock'),
        TSNET_CNI_STANDALONE_DIR: join(bin, 'nowhere'),
      },
      input: JSON.stringify({ cniVersion: '0.4.0', name: 'n', type: 'bridge' }),
      encoding: 'utf8',
    });
    assert.equal(r.status, 1);
    const j = JSON.parse(r.stdout);
    assert.equal(j.cniVersion, '0.4.0');
    assert.equal(j.code, 999);
    assert.match(j.msg, /no tsnetd answered .* no standalone plugin was found/);
    assert.match(j.msg, /TSNET_CNI_STANDALONE_DIR/);
    assert.match(r.stderr, /tsnet-cni-shim \(bridge\)/);
  },
);
