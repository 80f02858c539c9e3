// DESIGN.md §2.5: a committed release is delivered at once, not at the worker's next poll. The
// signal carries no data: the outbox table is the truth, the signal only says "look now". Issue 7
// carries it over the bus so that a replica's release wakes the worker that holds the lease.

/** Tells whoever delivers the outbox that a message was queued. */
export class OutboxSignal {
  readonly #listeners = new Set<() => void>();

  /** Called after a transaction that queued outbox rows has committed. */
  notify(): void {
    for (const listener of this.#listeners) listener();
  }

  /** Adds a listener; the returned function removes it. */
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
