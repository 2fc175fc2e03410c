/**
 * Waiting on conditions without fixed sleeps: re-check on every turn of the event loop (with a
 * short timer so I/O can progress) until the condition holds or the deadline passes.
 */
export const waitUntil = async (what: string, pred: () => boolean, timeoutMs = 10_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** Like waitUntil, for an async condition. */
export const waitUntilAsync = async (what: string, pred: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
