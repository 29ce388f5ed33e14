// Finding a plugin executable on CNI_PATH and running it: env + stdin in, parsed stdout or a CniError out.
import { NAME_RE } from '../../common/paths.js';
import type { spawn as Spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';
import { CniError, ErrorCode } from './types.js';

export const DEFAULT_CNI_PATH = ['/opt/cni/bin', '/usr/lib/cni'];

export function cniPath(env: NodeJS.ProcessEnv = process.env): string[] {
  const p = (env.CNI_PATH ?? '').split(':').filter(Boolean);
  return p.length ? p : DEFAULT_CNI_PATH;
}

/** The first executable file named `type` in `path`. */
export function findPlugin(type: string, path: string[]): string {
  if (!NAME_RE.test(type)) {
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `plugin type '${type}' is not a valid executable name`,
      'a plugin type is a file name on CNI_PATH, without "/"',
    );
  }
  for (const dir of path) {
    const f = join(dir, type);
    try {
      if (!statSync(f).isFile()) continue;
      accessSync(f, constants.X_OK);
      return f;
    } catch {
      /* not here */
    }
  }
  throw new CniError(
    ErrorCode.PluginNotAvailable,
    `failed to find plugin '${type}' in path [${path.join(':')}]`,
    'install the plugin into a CNI_PATH directory, or add its directory to CNI_PATH',
  );
}

export interface ExecResult {
  /** Parsed stdout (undefined when the plugin printed nothing). */
  output: unknown;
  stderr: string;
}

// node:child_process is loaded on first use: it pulls in net and streams, a measurable share of a plugin's start (bench/README.md),
// and most calls never exec anything (tsnet-ipam runs in-process).
let spawnFn: typeof Spawn | undefined;
async function loadSpawn(): Promise<typeof Spawn> {
  spawnFn ??= (await import('node:child_process')).spawn;
  return spawnFn;
}

/** Runs a plugin. Non-zero exit → CniError from the plugin's error JSON (or code 999 with its stderr). */
export async function execPlugin(file: string, env: NodeJS.ProcessEnv, stdin: string, timeoutMs = 60_000): Promise<ExecResult> {
  const spawn = await loadSpawn();
  return new Promise((resolve, reject) => {
    const child = spawn(file, [], { env, stdio: ['pipe', 'pipe', 'pipe'], timeout: timeoutMs });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => {
      /* a plugin may exit without reading stdin (VERSION); its exit status tells the story */
    });
    child.on('error', (e) =>
      reject(
        new CniError(
          ErrorCode.IoFailure,
          `cannot run plugin ${file}: ${e.message}`,
          'check that the file is executable and its interpreter exists',
        ),
      ),
    );
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      let parsed: unknown;
      if (stdout.trim()) {
        try {
          parsed = JSON.parse(stdout);
        } catch {
          parsed = undefined;
        }
      }
      if (code === 0) {
        if (stdout.trim() && parsed === undefined) {
          reject(new CniError(ErrorCode.DecodingFailure, `plugin ${file} printed output that is not JSON`, stdout.slice(0, 500)));
          return;
        }
        resolve({ output: parsed, stderr });
        return;
      }
      const p = parsed as { code?: unknown; msg?: unknown; details?: unknown } | undefined;
      if (p && typeof p.code === 'number' && typeof p.msg === 'string') {
        reject(new CniError(p.code, p.msg, typeof p.details === 'string' ? p.details : ''));
        return;
      }
      const why = signal ? `killed by ${signal}${signal === 'SIGTERM' ? ` (timeout ${timeoutMs} ms?)` : ''}` : `exit status ${code}`;
      reject(
        new CniError(ErrorCode.Internal, `plugin ${file} failed (${why}) without an error JSON`, (stderr || stdout).trim().slice(0, 2000)),
      );
    });
    child.stdin.end(stdin);
  });
}
