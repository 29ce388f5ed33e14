// `tsnet logs [-f]`: the container's combined stdout/stderr log; -f follows until the container ends.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { sleep } from '../util/files.js';
import { files, getContainer, loadContainer } from './store.js';

export async function streamLogs(ref: string, out: NodeJS.WritableStream, follow: boolean): Promise<void> {
  const c = getContainer(ref);
  const path = files.log(c.config.id);
  let pos = 0;
  const buf = Buffer.alloc(64 * 1024);
  const drain = () => {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch {
      return;
    }
    try {
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, pos);
        if (n <= 0) break;
        pos += n;
        out.write(Buffer.from(buf.subarray(0, n)));
      }
    } finally {
      closeSync(fd);
    }
  };
  drain();
  if (!follow) return;
  for (;;) {
    const now = loadContainer(c.config.id);
    const running = now?.state.status === 'running' || now?.state.status === 'created';
    let size = 0;
    try {
      size = statSync(path).size;
    } catch {
      /* removed */
    }
    if (size > pos) drain();
    else if (!running) return;
    await sleep(100);
  }
}
