import { describe, expect, it } from 'vitest';
import { EventQueue } from '../src/sim/event-queue.ts';
import { Rng } from '../src/harness/rng.ts';

describe('event queue', () => {
  it('pops in time order, and events at the same instant in scheduling order', () => {
    const q = new EventQueue(4); // grows as needed
    const rng = new Rng(42);
    const pushed: Array<[number, number]> = [];
    for (let i = 0; i < 5_000; i++) {
      const t = Math.floor(rng.next() * 200); // many ties
      const seq = q.push(t, 1, i, 0, { i });
      pushed.push([t, seq]);
      if (i % 7 === 0) q.pop(); // interleave pops with pushes
    }
    const out: Array<[number, number]> = [];
    let lastT = -Infinity, lastSeq = -1;
    // everything still queued comes out sorted by (time, seq)
    while (q.pop()) {
      expect(q.time > lastT || (q.time === lastT && q.seq > lastSeq)).toBe(true);
      expect((q.payload as { i: number }).i).toBe(q.a);
      lastT = q.time;
      lastSeq = q.seq;
      out.push([q.time, q.seq]);
    }
    expect(out.length).toBe(5_000 - Math.ceil(5_000 / 7));
  });

  it('reports Infinity when empty and keeps sequence numbers unique', () => {
    const q = new EventQueue();
    expect(q.peekTime()).toBe(Infinity);
    expect(q.pop()).toBe(false);
    const a = q.push(1, 0, 0, 0, undefined);
    const b = q.push(1, 0, 0, 0, undefined);
    expect(b).toBeGreaterThan(a);
    expect(q.peekTime()).toBe(1);
  });
});
