// One error type for everything a user can meet: it names the thing, the reason and the fix, and the CLI
// prints it as one line: `tsnet: <thing>: <reason> (<fix>)`.
export class TsnetError extends Error {
  constructor(
    readonly thing: string,
    readonly reason: string,
    readonly fix?: string,
    /** Exit status the CLI uses (docker uses 125 for engine errors). */
    readonly exitCode = 125,
  ) {
    super(`${thing}: ${reason}${fix ? ` (${fix})` : ''}`);
    this.name = 'TsnetError';
  }
}

/** The one line the CLI prints for any error. */
export function formatError(e: unknown): string {
  if (e instanceof TsnetError) return `tsnet: ${e.message}`;
  // A CNI plugin's answer (plugins/cni CniError): the plugin already named the thing and the reason; its
  // details carry the fix. Only code 999 (internal) is a surprise.
  const cni = e as { name?: string; code?: unknown; details?: string };
  if (e instanceof Error && cni.name === 'CniError' && typeof cni.code === 'number' && cni.code !== 999) {
    const details = cni.details;
    return `tsnet: ${e.message}${details ? ` (${details})` : ''}`;
  }
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    return `tsnet: ${e.message}${code && !e.message.includes(code) ? ` [${code}]` : ''} (this is unexpected; re-run with TSNET_DEBUG=1 for a stack trace)`;
  }
  return `tsnet: ${String(e)}`;
}
