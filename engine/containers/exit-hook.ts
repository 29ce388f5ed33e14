// The exit hook: when a container ends, the init helper's supervisor execs
// `node <tsnet CLI> __container-exited <id>` (network detach, cgroup removal, --rm), so cleanup happens even
// when the CLI that started the container is gone. Here: that command line, its environment, and what it does.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { trace } from '../../common/trace.js';
import { cleanupBeforeExit } from './cleanup.js';
import { removeContainer } from './rm.js';
import { loadContainer, readExit } from './store.js';

export const EXIT_HOOK_COMMAND = '__container-exited';

/**
 * The CLI entry the supervisor runs when the container ends: the bundled CLI when it is built (one file,
 * faster to start), else the tsc output.
 */
function cliMain(): string {
  const bundle = fileURLToPath(new URL('../cli/tsnet.cjs', import.meta.url));
  return existsSync(bundle) ? bundle : fileURLToPath(new URL('../cli/main.js', import.meta.url));
}

/** The hook's argv, as the init helper's `onexit` config lines. */
export function exitHookArgv(id: string): string[] {
  return [process.execPath, cliMain(), EXIT_HOOK_COMMAND, id];
}

/**
 * The supervisor's environment, which its exit hook (a Node start) inherits: ours, less NODE_EXTRA_CA_CERTS —
 * Node reads that whole file at start (~50 ms) and tsnet never speaks TLS.
 */
export function hookEnv(): NodeJS.ProcessEnv {
  const { NODE_EXTRA_CA_CERTS: _unused, ...env } = process.env;
  return { ...env, TSNET_ROOT: process.env.TSNET_ROOT ?? '' };
}

/**
 * The exit hook (this process *is* the supervisor, exec'd): cleanup, then --rm. Returns the container's exit
 * code, which becomes the supervisor's, so a foreground `run --rm` still knows it after the files are gone.
 */
export async function containerExited(id: string): Promise<number> {
  const code = readExit(id)?.code ?? 125;
  trace('hook-start');
  let handedOff: Promise<void> | undefined;
  try {
    ({ handedOff } = await cleanupBeforeExit(id));
    trace('cleaned-up');
  } finally {
    const c = loadContainer(id);
    if (c?.config.autoRemove) await removeContainer(id, { force: true, fromExitHook: true });
    await handedOff;
    trace('removed');
  }
  return code;
}
