// Process identity that survives pid reuse: (pid, start time from /proc/<pid>/stat field 22).
import { readFileSync } from 'node:fs';

export function procStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) may contain spaces and parens: split after the last ')'
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const state = rest[0];
    if (state === 'Z' || state === 'X') return undefined; // a zombie is as good as dead
    return rest[19];
  } catch {
    return undefined;
  }
}

/** True when the process with this pid is the one that had this start time. */
export function sameProcessAlive(pid: number | undefined, start: string | undefined): boolean {
  if (!pid) return false;
  const now = procStartTime(pid);
  return now !== undefined && (start === undefined || now === start);
}
