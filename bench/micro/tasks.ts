/**
 * The micro-benchmark tasks: the simulator's and protocols' hot paths. Each task does a batch of
 * `opsPerIteration` operations per call so that timer overhead is negligible; results are
 * reported per operation. Inputs are built once, deterministically, outside the timed function.
 */
import { EventQueue } from '../../src/sim/event-queue.ts';
import { AllToAllView, SYNC, allToAllCodec, type AllToAllMsg } from '../../protocols/shared/all-to-all.ts';
import { PROTOCOLS } from '../../src/protocols.ts';
import type { Reporter } from '../../src/contract/protocol.ts';
import { fakeNode } from '../../src/harness/fake-node.ts';

export interface MicroTask {
  name: string;
  opsPerIteration: number;
  fn: () => void;
}

/** A fixed pseudo-random sequence (no Math.random: runs are comparable). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

const NOOP_REPORT: Reporter = { memberUp: () => {}, memberDown: () => {}, shardUpdated: () => {}, count: () => {}, routable: () => {} };

/** Keeps results observable so the JIT cannot drop the work. */
export let sink = 0;

function eventQueue(): MicroTask {
  const n = 1000;
  const rnd = lcg(1);
  const times = Float64Array.from({ length: n }, () => rnd() * 1000);
  const q = new EventQueue(2 * n);
  return {
    name: 'event-queue push+pop (1k pending)',
    opsPerIteration: n,
    fn: () => {
      for (let i = 0; i < n; i++) q.push(times[i], 1, i, 0, undefined);
      while (q.pop()) sink += q.a;
    },
  };
}

function codec(): MicroTask[] {
  const rnd = lcg(2);
  const msgs: AllToAllMsg[] = Array.from({ length: 100 }, (_, i) => ({
    t: SYNC,
    seq: i + 1,
    u: i % 4 === 0 ? [Math.floor(rnd() * 1024), Math.floor(rnd() * 16), i + 2] : [],
  }));
  const bytes = msgs.map((m) => allToAllCodec.encode(m));
  return [
    {
      name: 'all-to-all encode (Sync)',
      opsPerIteration: msgs.length,
      fn: () => {
        for (const m of msgs) sink += allToAllCodec.encode(m).length;
      },
    },
    {
      name: 'all-to-all decode (Sync)',
      opsPerIteration: bytes.length,
      fn: () => {
        for (const b of bytes) sink += (allToAllCodec.decode(b) as { seq?: number }).seq ?? 0;
      },
    },
  ];
}

function membershipMerge(): MicroTask {
  const members = 1000;
  const shards = 1024;
  const view = new AllToAllView(0, NOOP_REPORT, 3000, new Int32Array(shards), new Uint32Array(shards).fill(1), members);
  const seq = new Uint32Array(members);
  let now = 0;
  let version = 2;
  return {
    name: 'membership merge (AllToAllView.receive, 1k members)',
    opsPerIteration: members,
    fn: () => {
      now += 1000;
      for (let from = 1; from <= members; from++) {
        const s = ++seq[from - 1];
        // one Sync in 16 carries a shard-map change, as under a steady reshard trickle
        const u = (from & 15) === 0 ? [from % shards, from & 15, version++] : [];
        if (view.receive(from, s, u, false, now)) sink++;
      }
    },
  };
}

function lookups(): MicroTask[] {
  const out: MicroTask[] = [];
  const shards = 1024;
  const rnd = lcg(3);
  const keys = Int32Array.from({ length: 1000 }, () => Math.floor(rnd() * shards));
  for (const def of PROTOCOLS.values()) {
    let fake;
    try {
      fake = fakeNode(def, { self: 0, members: Array.from({ length: 100 }, (_, i) => i), shards });
    } catch (e) {
      process.stderr.write(`micro: shard-map lookup (${def.name}) skipped: it cannot start outside the simulator (${(e as Error).message})\n`);
      continue;
    }
    const node = fake.node;
    out.push({
      name: `shard-map lookup (${def.name})`,
      opsPerIteration: keys.length,
      fn: () => {
        for (let i = 0; i < keys.length; i++) sink += node.lookup(keys[i]);
      },
    });
  }
  return out;
}

/**
 * SWIM message handling: the messages one node sends during 30 s of its probe loop (pings with
 * piggybacked gossip), handled by a second node. Present only when the swim protocol is registered.
 */
function swimHandling(): MicroTask[] {
  const def = PROTOCOLS.get('swim');
  if (!def) {
    process.stderr.write('micro: swim message handling skipped: no protocol named swim is registered\n');
    return [];
  }
  const members = Array.from({ length: 100 }, (_, i) => i);
  const a = fakeNode(def, { self: 1, members, shards: 1024 });
  a.node.originate(7, 3, 2); // something to piggyback
  a.advance(30_000);
  const msgs = a.sent.map((s) => s.msg);
  if (msgs.length === 0) return [];
  const b = fakeNode(def, { self: 0, members, shards: 1024 });
  const bytes = msgs.map((m) => def.codec.encode(m));
  return [
    {
      name: 'swim message handling (onMessage)',
      opsPerIteration: msgs.length,
      fn: () => {
        for (const m of msgs) b.node.onMessage(1, m);
        b.sent.length = 0;
      },
    },
    {
      name: 'swim encode+decode',
      opsPerIteration: msgs.length,
      fn: () => {
        for (let i = 0; i < msgs.length; i++) {
          sink += def.codec.encode(msgs[i]).length;
          sink += def.codec.decode(bytes[i]) ? 1 : 0;
        }
      },
    },
  ];
}

export function buildTasks(): MicroTask[] {
  return [eventQueue(), ...codec(), membershipMerge(), ...lookups(), ...swimHandling()];
}
