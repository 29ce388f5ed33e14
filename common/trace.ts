// TSNET_TRACE=1: phase timestamps on stderr, one line each, so the time of a command can be split by phase
// across the processes it runs (the CLI, the init helper, an exit hook). A line is
//   tsnet-trace <pid> <epoch ms, µs resolution> <phase>
// The timestamps are wall-clock (CLOCK_REALTIME) so lines of different processes line up; the first line of a
// Node process is its start (Node's time origin), taken before any module was loaded.
import { writeSync } from 'node:fs';

const on = !!process.env.TSNET_TRACE;
let started = false;

/** Straight to fd 2, and never an error: an exit hook's stderr may be the pipe of a CLI that is gone. */
function line(at: number, phase: string): void {
  try {
    writeSync(2, `tsnet-trace ${process.pid} ${at.toFixed(3)} ${phase}\n`);
  } catch {
    /* nobody reads it */
  }
}

/** Records that `phase` was reached (nothing unless TSNET_TRACE is set). */
export function trace(phase: string): void {
  if (!on) return;
  if (!started) {
    started = true;
    line(performance.timeOrigin, 'node-start');
  }
  line(performance.timeOrigin + performance.now(), phase);
}
