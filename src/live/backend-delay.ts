/**
 * A live FE's modelled back-end round trip (network.backendRttMs): each answer leaves that long
 * after its request reached the FE, on a timer, without blocking the event loop — so live request
 * latency holds the same back-end round trip as the simulator's (src/sim/simulation.ts REQUEST).
 *
 * Node's timers tick in whole milliseconds and fire at the first loop turn past their tick: a
 * deadline is rounded to the nearest tick, and an answer leaves within about ±0.5 ms of it (plus
 * the event loop's own delay), not late by a tick on average. One timer serves all pending
 * answers: with one delay, deadlines are in arrival order.
 */
export class BackendDelay {
  /** pending answers as [deadline ms, send] from #head on */
  #q: Array<[number, () => void]> = [];
  #head = 0;
  #timer: NodeJS.Timeout | null = null;

  constructor(
    readonly delayMs: number,
    readonly now: () => number = () => performance.now(),
  ) {}

  /** Runs `send` delayMs from now (at once when the delay is 0). */
  after(send: () => void): void {
    if (!(this.delayMs > 0)) return send();
    this.#q.push([this.now() + this.delayMs, send]);
    if (this.#timer === null) this.#arm();
  }

  get pending(): number {
    return this.#q.length - this.#head;
  }

  /** Drops every pending answer (the process is exiting). */
  clear(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#q = [];
    this.#head = 0;
  }

  #arm(): void {
    const wait = this.#q[this.#head][0] - this.now();
    this.#timer = setTimeout(this.#fire, Math.max(1, Math.round(wait)));
  }

  readonly #fire = (): void => {
    this.#timer = null;
    // due: within half a tick of now (the nearest tick)
    const due = this.now() + 0.5;
    const q = this.#q;
    while (this.#head < q.length && q[this.#head][0] <= due) {
      const send = q[this.#head][1];
      q[this.#head++] = undefined as never;
      send();
    }
    if (this.#head === q.length) {
      this.#q = [];
      this.#head = 0;
    } else {
      if (this.#head > 1024) {
        this.#q = q.slice(this.#head);
        this.#head = 0;
      }
      this.#arm();
    }
  };
}
