// Runs tasks one at a time per key, tasks of different keys concurrently. tsnetd keys requests by network
// name: ADDs on one bridge gain nothing from overlapping (the kernel serialises them under the rtnl lock),
// and overlapping them makes each one's netlink dumps see the others' changes (NLM_F_DUMP_INTR retries).
export class KeyedQueue {
  private tails = new Map<string, Promise<unknown>>();

  /** Queued behind earlier tasks of `key`; `key` undefined runs at once. */
  run<T>(key: string | undefined, fn: () => Promise<T>): Promise<T> {
    if (key === undefined) return fn();
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }

  /** Keys with work queued or running. */
  get size(): number {
    return this.tails.size;
  }
}
