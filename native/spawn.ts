// Starting a helper process without node:child_process: posix_spawn through the addon (vfork semantics — the
// Node process, tens of MB, is not copied as libuv's fork() copies it) in a session of its own, with the fds
// given; its end is reaped on SIGCHLD with a waitpid that never blocks (no thread left waiting, so the process
// can always exit).
import { native } from './addon.js';

export interface Spawned {
  pid: number;
  /** Resolves with the child's exit code (128 + N when signal N ended it) once it ended; reaps it. */
  exited(): Promise<number>;
  /** Reaps it once it ended, without keeping this process alive for it (exiting first, this process leaves it to init). */
  letGo(): void;
}

/**
 * Spawns `file` with `args` (argv[1..]) and `env`; the child's fd i is fds[i] ('null': /dev/null). The fds are
 * duplicated before this returns: the caller may close its copies at once. posix_spawn runs on a worker thread
 * (it returns once the child has exec'd: on a busy machine, the child's wait for a CPU); the promise resolves
 * then.
 */
export async function spawnInSession(file: string, args: string[], env: NodeJS.ProcessEnv, fds: (number | 'null')[]): Promise<Spawned> {
  const n = native();
  const envp = Object.entries(env)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${v}`);
  const pid = await n.spawnProcess(
    file,
    [file, ...args],
    envp,
    fds.map((fd) => (fd === 'null' ? -1 : fd)),
  );
  /** Reaps the child on SIGCHLD (and at once: it may have ended already); the interval, if any, keeps this process alive meanwhile. */
  const whenReaped = (keepAlive: boolean): Promise<number> =>
    new Promise<number>((resolve, reject) => {
      // Node's signal listeners do not keep the process alive: the interval does (and checks now and then)
      const keep = keepAlive ? setInterval(() => check(), 1000) : undefined;
      const stop = (): void => {
        clearInterval(keep);
        process.off('SIGCHLD', check);
      };
      const check = (): void => {
        let code: number | null;
        try {
          code = n.reap(pid);
        } catch (e) {
          stop();
          reject(e);
          return;
        }
        if (code === null) return;
        stop();
        resolve(code);
      };
      process.on('SIGCHLD', check);
      check();
    });
  let exit: Promise<number> | undefined;
  return {
    pid,
    exited: () => (exit ??= whenReaped(true)),
    letGo: () => void whenReaped(false).catch(() => undefined), // (an error: not ours to reap any more)
  };
}
