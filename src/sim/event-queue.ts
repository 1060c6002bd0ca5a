/**
 * The simulator's event queue, ordered by (time, seq). `seq` is a global insertion counter, so
 * events at the same instant pop in the order they were scheduled: ties are broken
 * deterministically, and the order depends on nothing but (time, seq).
 *
 * Shape: a calendar queue. Time is cut into buckets of BUCKET_MS; a ring of RING buckets covers
 * the near future (~2 s, which holds every periodic protocol timer). An event for a future bucket
 * is appended to that bucket's list in O(1); when the clock reaches a bucket its events move into
 * a small binary heap that orders them. Events beyond the ring wait in an overflow heap and move
 * into the ring as it turns. Why: thread-per-peer keeps one pending timer per thread (10⁵–10⁶);
 * a single heap that size misses the cache on every level of every pop, while the current bucket's
 * heap holds a few hundred events and stays in cache. (A plain typed-array heap: ~2 M pops/s at
 * 250k pending here, ~7 M at 2k.)
 */

const BUCKET_MS = 0.5;
/** the kind of a free slot; event kinds are below it */
const FREE = 255;
const RING = 4096;

/** A binary min-heap of (time, seq, slot) kept inline in one Float64Array. */
class KeyHeap {
  h = new Float64Array(3 * 256);
  size = 0;

  push(time: number, seq: number, slot: number): void {
    if ((this.size + 1) * 3 > this.h.length) {
      const next = new Float64Array(this.h.length * 2);
      next.set(this.h);
      this.h = next;
    }
    const h = this.h;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = parent * 3;
      const pt = h[p];
      if (pt < time || (pt === time && h[p + 1] < seq)) break;
      const j = i * 3;
      h[j] = pt;
      h[j + 1] = h[p + 1];
      h[j + 2] = h[p + 2];
      i = parent;
    }
    const j = i * 3;
    h[j] = time;
    h[j + 1] = seq;
    h[j + 2] = slot;
  }

  /** Removes the minimum; the caller read it from h[0..2] first. */
  removeMin(): void {
    const h = this.h;
    const n = --this.size;
    if (n === 0) return;
    const l = n * 3;
    const lt = h[l], ls = h[l + 1], lh = h[l + 2];
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      const r = c + 1;
      if (r < n && (h[r * 3] < h[c * 3] || (h[r * 3] === h[c * 3] && h[r * 3 + 1] < h[c * 3 + 1]))) c = r;
      const ct = h[c * 3], cs = h[c * 3 + 1];
      if (lt < ct || (lt === ct && ls < cs)) break;
      const j = i * 3, cj = c * 3;
      h[j] = ct;
      h[j + 1] = cs;
      h[j + 2] = h[cj + 2];
      i = c;
    }
    const j = i * 3;
    h[j] = lt;
    h[j + 1] = ls;
    h[j + 2] = lh;
  }
}

export class EventQueue {
  // event fields, by slot
  #time: Float64Array;
  #seq: Float64Array;
  #kind: Uint8Array;
  #a: Int32Array;
  #b: Int32Array;
  #payload: unknown[];
  /** next slot in the same ring bucket's list, -1 = end */
  #next: Int32Array;
  #free: Int32Array;
  #freeTop = 0;

  /** events of the current bucket (and any earlier time scheduled now), ordered */
  readonly #current = new KeyHeap();
  /** events beyond the ring */
  readonly #overflow = new KeyHeap();
  readonly #ringHead = new Int32Array(RING).fill(-1);
  #ringCount = 0;
  /** the bucket whose events are in #current; buckets ≤ it never receive list entries */
  #cursor = -1;
  #size = 0;
  #nextSeq = 0;

  constructor(capacity = 1024) {
    this.#time = new Float64Array(capacity);
    this.#seq = new Float64Array(capacity);
    this.#kind = new Uint8Array(capacity).fill(FREE);
    this.#a = new Int32Array(capacity);
    this.#b = new Int32Array(capacity);
    this.#payload = new Array(capacity).fill(undefined);
    this.#next = new Int32Array(capacity);
    this.#free = new Int32Array(capacity);
    for (let i = 0; i < capacity; i++) this.#free[i] = capacity - 1 - i;
    this.#freeTop = capacity;
  }

  get size(): number {
    return this.#size;
  }

  #grow(): void {
    const old = this.#kind.length;
    const cap = old * 2;
    const grow64 = (src: Float64Array) => { const d = new Float64Array(cap); d.set(src); return d; };
    const grow32 = (src: Int32Array) => { const d = new Int32Array(cap); d.set(src); return d; };
    this.#time = grow64(this.#time);
    this.#seq = grow64(this.#seq);
    const kind = new Uint8Array(cap).fill(FREE); kind.set(this.#kind); this.#kind = kind;
    this.#a = grow32(this.#a);
    this.#b = grow32(this.#b);
    this.#next = grow32(this.#next);
    this.#payload.length = cap;
    const free = new Int32Array(cap);
    let top = 0;
    for (let i = cap - 1; i >= old; i--) free[top++] = i;
    this.#free = free;
    this.#freeTop = top;
  }

  /** Schedules an event; returns its sequence number (unique for the run). */
  push(time: number, kind: number, a: number, b: number, payload: unknown): number {
    if (kind >= FREE) throw new RangeError(`event kind must be < ${FREE}`);
    if (this.#freeTop === 0) this.#grow();
    const slot = this.#free[--this.#freeTop];
    const seq = this.#nextSeq++;
    this.#time[slot] = time;
    this.#seq[slot] = seq;
    this.#kind[slot] = kind;
    this.#a[slot] = a;
    this.#b[slot] = b;
    this.#payload[slot] = payload;
    this.#size++;
    this.#place(slot, time, seq);
    return seq;
  }

  #place(slot: number, time: number, seq: number): void {
    const bucket = Math.floor(time / BUCKET_MS);
    if (bucket <= this.#cursor) this.#current.push(time, seq, slot);
    else if (bucket < this.#cursor + RING) {
      const r = bucket % RING;
      this.#next[slot] = this.#ringHead[r];
      this.#ringHead[r] = slot;
      this.#ringCount++;
    } else this.#overflow.push(time, seq, slot);
  }

  /** Moves the clock to the next bucket that holds events, loading them into #current. */
  #advance(): void {
    if (this.#ringCount === 0) {
      // nothing in the ring: jump straight to the overflow's earliest bucket
      this.#cursor = Math.floor(this.#overflow.h[0] / BUCKET_MS) - 1;
    }
    this.#cursor++;
    // the ring now reaches one bucket further: bring in overflow events that fall inside it
    const horizon = this.#cursor + RING;
    const o = this.#overflow;
    while (o.size > 0 && Math.floor(o.h[0] / BUCKET_MS) < horizon) {
      const time = o.h[0], seq = o.h[1], slot = o.h[2];
      o.removeMin();
      this.#place(slot, time, seq);
    }
    const r = this.#cursor % RING;
    let slot = this.#ringHead[r];
    this.#ringHead[r] = -1;
    while (slot !== -1) {
      const next = this.#next[slot];
      this.#current.push(this.#time[slot], this.#seq[slot], slot);
      this.#ringCount--;
      slot = next;
    }
  }

  // The fields of the event last popped.
  time = 0;
  seq = 0;
  kind = 0;
  a = 0;
  b = 0;
  payload: unknown = undefined;

  peekTime(): number {
    if (this.#size === 0) return Infinity;
    while (this.#current.size === 0) this.#advance();
    return this.#current.h[0];
  }

  /** Pops the earliest event into the public fields; false when empty. */
  pop(): boolean {
    if (this.#size === 0) return false;
    while (this.#current.size === 0) this.#advance();
    const c = this.#current;
    const slot = c.h[2];
    this.time = c.h[0];
    this.seq = c.h[1];
    c.removeMin();
    this.#size--;
    this.kind = this.#kind[slot];
    this.a = this.#a[slot];
    this.b = this.#b[slot];
    this.payload = this.#payload[slot];
    this.#payload[slot] = undefined;
    this.#kind[slot] = FREE;
    this.#free[this.#freeTop++] = slot;
    return true;
  }

  /** Calls `fn` with the seq and payload of every pending event of `kind`, in no particular order. */
  forEachPending(kind: number, fn: (seq: number, payload: unknown) => void): void {
    const kinds = this.#kind;
    for (let slot = 0; slot < kinds.length; slot++) if (kinds[slot] === kind) fn(this.#seq[slot], this.#payload[slot]);
  }
}
