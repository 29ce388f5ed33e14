// `tsnet exec CTR CMD…`: the init helper joins the container's ipc/uts/net/pid/cgroup/mnt namespaces and
// cgroups and runs the command there, confined as the container is; its exit code is returned.
import { randomHex } from '../../common/random.js';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { childProcess } from '../../common/builtins.js';
import { TsnetError } from '../../common/errors.js';
import { paths } from '../paths.js';
import { initBinary } from '../runtime/init-binary.js';
import { encodeInitConfig } from '../runtime/init-config.js';
import { confinementInitConfig } from '../runtime/security.js';
import { files, getContainer } from './store.js';
import { exitStatus } from '../util/exit-code.js';

export interface ExecOptions {
  env?: string[];
  workdir?: string;
}

export async function execInContainer(ref: string, cmd: string[], opts: ExecOptions = {}): Promise<number> {
  const c = getContainer(ref);
  if (c.state.status !== 'running' || !c.state.pid) {
    throw new TsnetError(
      `container ${c.config.name}`,
      `is not running (${c.state.status})`,
      `start a new one with 'tsnet run', or see 'tsnet ps -a'`,
    );
  }
  if (!cmd.length) throw new TsnetError('exec', 'no command given', 'write tsnet exec CONTAINER COMMAND [ARG…]');
  const conf = join(files.dir(c.config.id), `exec-${randomHex(4)}.conf`);
  writeFileSync(
    conf,
    encodeInitConfig({
      pid: c.state.pid,
      cgroup: c.state.cgroup?.dirs ?? [],
      env: [...c.config.env, ...(opts.env ?? [])],
      cwd: opts.workdir ?? c.config.workdir,
      arg: cmd,
      ...confinementInitConfig(c.config.security, paths.seccompCache()), // what the container's own processes run under
    }),
  );
  try {
    const child = childProcess().spawn(initBinary(), ['exec', conf], { stdio: 'inherit' });
    const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
    const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((s) => [s, forward(s)] as const);
    for (const [s, h] of handlers) process.on(s, h);
    const code = await new Promise<number>((resolve) => child.on('close', (code, signal) => resolve(exitStatus(code, signal))));
    for (const [s, h] of handlers) process.off(s, h);
    return code;
  } finally {
    rmSync(conf, { force: true });
  }
}
