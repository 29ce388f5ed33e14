// Undo steps for a multi-step change (create veth, reserve an address, add a rule …): each step registers its
// undo as it succeeds; on failure they run newest first, so a failed ADD leaves nothing half-made.
export type Undo = () => unknown;

/** Runs every undo newest first, swallowing their errors: the original failure is what the caller reports. */
export async function rollBack(undo: Undo[]): Promise<void> {
  for (const fn of [...undo].reverse()) {
    try {
      await fn();
    } catch {
      /* best effort */
    }
  }
}
