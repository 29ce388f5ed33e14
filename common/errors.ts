// The one error a user can meet: it names the thing, the reason and the fix, and carries the CNI code that a
// plugin reports it with (where one applies) and the exit status the CLI uses. It becomes CNI error JSON in
// one place (plugins/cni/errors.ts) and one line of CLI text in one place (engine/cli/format-error.ts).

/** The CNI spec's well-known error codes; plugins define their own from 100 up. */
export const CniCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironment: 4,
  IoFailure: 5,
  DecodingFailure: 6,
  InvalidNetworkConfig: 7,
  TryAgainLater: 11,
  PluginNotAvailable: 50,
  PluginLimitedConnectivity: 51,
  /** An error nobody classified: a bug, or a case no code fits. */
  Internal: 999,
} as const;

export interface TsnetErrorOptions {
  /** The CNI code a plugin reports this error with (default: Internal). */
  cniCode?: number;
  /** Exit status of the CLI (default 125, as docker uses for engine errors). */
  exitCode?: number;
  cause?: unknown;
}

export class TsnetError extends Error {
  readonly cniCode: number | undefined;
  readonly exitCode: number;

  constructor(
    /** What the error is about: "bridge br0", "network \"web\"", "route 10.0.0.0/8 via 10.1.0.1"; may be empty. */
    readonly thing: string,
    /** Why it failed, in the user's terms. */
    readonly reason: string,
    /** What to do about it. */
    readonly fix?: string,
    opts: TsnetErrorOptions = {},
  ) {
    super(
      `${thing ? `${thing}: ${reason}` : reason}${fix ? ` (${fix})` : ''}`,
      opts.cause === undefined ? undefined : { cause: opts.cause },
    );
    this.name = 'TsnetError';
    this.cniCode = opts.cniCode;
    this.exitCode = opts.exitCode ?? 125;
  }

  /** The thing and the reason, without the fix: a CNI error's msg (its details are the fix). */
  get summary(): string {
    return this.thing ? `${this.thing}: ${this.reason}` : this.reason;
  }
}

/** A TsnetError, also one thrown by another copy of this module (two bundles in one process). */
export function isTsnetError(e: unknown): e is TsnetError {
  if (e instanceof TsnetError) return true;
  const o = e as Partial<TsnetError> | null;
  return e instanceof Error && typeof o?.thing === 'string' && typeof o.reason === 'string' && typeof o.exitCode === 'number';
}
