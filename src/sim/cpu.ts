/**
 * The cores of every simulated node: when each is busy until, and how much work each node ran.
 * The run queue in front of them (which work waits, in what order) is simulation.ts's; this file
 * only answers "is a core free now?", "when is the next one free?" and "how busy was the node?".
 *
 * - A node has ceil(limits.coresPerNode) cores, each running at coresPerNode / ceil(coresPerNode)
 *   of a full core, so a fractional allowance (a 0.5-vCPU container) is one slower core.
 * - A piece of work occupies one core from its start for its CPU cost; work a handler does (a
 *   send) extends the core it runs on. Times are in ms of virtual time, costs in µs.
 * - Busy time within a window is exact: what was charged, less the part of each core's current
 *   run that lies past the window's end (a core's work is contiguous up to its busy-until).
 */
export class Cores {
  /** cores per node */
  readonly perNode: number;
  /** busy-until per core, ms; node n owns [n·perNode, (n+1)·perNode) */
  readonly free: Float64Array;
  /** core time charged per node, ms */
  readonly #busy: Float64Array;
  /** busy time through the previous sample, per node, ms */
  readonly #sampled: Float64Array;
  /** ms of core time per µs of cost */
  readonly #msPerUs: number;

  constructor(coresPerNode: number, maxNodes: number) {
    this.perNode = Math.max(1, Math.ceil(coresPerNode));
    this.#msPerUs = this.perNode / coresPerNode / 1000;
    this.free = new Float64Array(maxNodes * this.perNode);
    this.#busy = new Float64Array(maxNodes);
    this.#sampled = new Float64Array(maxNodes);
  }

  /** A core of `node` free at `now`, or -1 when all are busy. */
  freeCore(node: number, now: number): number {
    const base = node * this.perNode;
    for (let k = base, end = base + this.perNode; k < end; k++) if (this.free[k] <= now) return k;
    return -1;
  }

  /** When the first core of `node` comes free. */
  nextFree(node: number): number {
    const base = node * this.perNode;
    let t = this.free[base];
    for (let k = base + 1, end = base + this.perNode; k < end; k++) if (this.free[k] < t) t = this.free[k];
    return t;
  }

  /** Work of `us` µs starts on a free `core` of `node` at `now`; returns when it ends. */
  start(node: number, core: number, now: number, us: number): number {
    const ms = us * this.#msPerUs;
    this.#busy[node] += ms;
    return (this.free[core] = now + ms);
  }

  /** The work running on `core` of `node` does `us` µs more; returns when the core is free again. */
  extend(node: number, core: number, us: number): number {
    const ms = us * this.#msPerUs;
    this.#busy[node] += ms;
    return (this.free[core] += ms);
  }

  /** A process (re)starts on `node`: its cores are idle. */
  reset(node: number, now: number): void {
    const base = node * this.perNode;
    this.free.fill(now, base, base + this.perNode);
  }

  /** Core time `node` was busy since the previous call (the sample window ending at `t`), ms. */
  takeWindowBusy(node: number, t: number): number {
    const base = node * this.perNode;
    let through = this.#busy[node];
    for (let k = base, end = base + this.perNode; k < end; k++) if (this.free[k] > t) through -= this.free[k] - t;
    const busy = through - this.#sampled[node];
    this.#sampled[node] = through;
    return busy;
  }
}
