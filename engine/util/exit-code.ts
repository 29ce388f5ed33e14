// The exit status a shell would report for a child: its code, or 128 + the number of the signal that ended it.
import { constants } from 'node:os';

export function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  if (signal) return 128 + (constants.signals[signal] ?? 0);
  return 125;
}
