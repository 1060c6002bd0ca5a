/**
 * The transmit-limited broadcast queue (memberlist queue.go TransmitLimitedQueue).
 *
 * - A new update about a member (or a shard) replaces any queued update about the same one:
 *   only the newest belief is worth spreading (memberlist's Invalidates).
 * - Each fill hands out the least-transmitted updates first, newest first among equals, as
 *   many as fit the byte and count budget; an update is dropped once sent `limit` times.
 * The queue is small in steady state (a few updates per change in flight), so it is a plain
 * array sorted on demand rather than memberlist's B-tree.
 */
import { updateBytes, U_SHARD } from './messages.ts';

interface Item {
  kind: number;
  a: number;
  b: number;
  c: number;
  /** member id for membership updates, −(shard + 1) for shard updates */
  key: number;
  transmits: number;
  /** insertion order: higher is newer */
  id: number;
}

const byPriority = (x: Item, y: Item) => x.transmits - y.transmits || y.id - x.id;

export class BroadcastQueue {
  #items: Item[] = [];
  #nextId = 0;
  #sorted = true;

  get size(): number {
    return this.#items.length;
  }

  enqueue(kind: number, a: number, b: number, c: number): void {
    const key = kind === U_SHARD ? -(a + 1) : a;
    const items = this.#items;
    for (let i = 0; i < items.length; i++) {
      if (items[i].key !== key) continue;
      items[i] = items[items.length - 1];
      items.pop();
      break;
    }
    items.push({ kind, a, b, c, key, transmits: 0, id: this.#nextId++ });
    this.#sorted = false;
  }

  /**
   * Appends to `out` (flat quads) the updates to piggyback on one message: at most `maxCount`,
   * at most `budgetBytes` of encoded updates; counts a transmit for each and drops those that
   * reached `limit`. Returns the number appended.
   */
  fill(out: number[], budgetBytes: number, maxCount: number, limit: number): number {
    const items = this.#items;
    if (items.length === 0 || maxCount <= 0) return 0;
    if (!this.#sorted) {
      items.sort(byPriority);
      this.#sorted = true;
    }
    let used = 0, n = 0, dropped = 0;
    for (let i = 0; i < items.length && n < maxCount; i++) {
      const it = items[i];
      const size = updateBytes(it.kind);
      if (used + size > budgetBytes) continue;
      used += size;
      n++;
      out.push(it.kind, it.a, it.b, it.c);
      it.transmits++;
      if (it.transmits >= limit) dropped++;
      this.#sorted = false;
    }
    if (dropped > 0) this.#items = items.filter((it) => it.transmits < limit);
    return n;
  }

  /** Test hook: the queued updates as [kind, a, b, c, transmits] rows. */
  snapshot(): number[][] {
    return this.#items.map((it) => [it.kind, it.a, it.b, it.c, it.transmits]);
  }
}
