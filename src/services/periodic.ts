/**
 * Runs `work` every `intervalMs` after the previous round ends (never two rounds at once) until
 * stop(), which clears the timer and waits for a round in flight. A round that fails is handed to
 * `onError` and the rounds go on. The timer does not hold the process open.
 */
export class Periodic {
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> | undefined;
  #running = false;

  get running(): boolean {
    return this.#running;
  }

  start(work: () => Promise<unknown>, intervalMs: number, onError: (error: unknown) => void): void {
    if (this.#running) return;
    this.#running = true;
    const schedule = (): void => {
      this.#timer = setTimeout(() => {
        this.#round = work()
          .then(
            () => undefined,
            (error: unknown) => onError(error),
          )
          .finally(() => {
            this.#round = undefined;
            if (this.#running) schedule();
          });
      }, intervalMs);
      this.#timer.unref();
    };
    schedule();
  }

  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#round;
  }
}
