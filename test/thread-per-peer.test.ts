// thread-per-peer's own behaviour, on a fake link whose nodes really spawn (simulated) threads:
// one thread and one connection per peer, what travels through them, and what a refused spawn does.
import { describe, expect, it } from 'vitest';
import { fakeLink } from '../src/harness/fake-link.ts';
import { threadPerPeer } from '../protocols/thread-per-peer/index.ts';
import { LIMITS } from '../src/model/defaults.ts';

const P = threadPerPeer.params;
const INTERVAL = P.syncIntervalMs.default as number;
const FAIL_AFTER = (P.failAfterIntervals.default as number) * INTERVAL;
const POLL = P.membershipPollMs.default as number;
const SLACK = 50;

describe('thread-per-peer', () => {
  it('thread_per_peer_holds_one_thread_and_one_connection_per_peer', async () => {
    const link = await fakeLink(threadPerPeer, { nodes: 4 });
    link.runUntil(INTERVAL);
    for (let n = 0; n < 4; n++) {
      expect(link.threadsOf(n)).toBe(3);
      expect(link.sim.nodes[n].fds).toBe(3);
    }
  });

  it('thread_per_peer_carries_a_reshard_through_the_peer_thread_within_one_interval', async () => {
    const link = await fakeLink(threadPerPeer, { nodes: 2 });
    link.runUntil(1000);
    link.originate(0, 5, 3, 2);
    link.runUntil(1000 + INTERVAL + SLACK);
    expect(link.reports[1].shards.get(5)).toBe(2);
    expect(link.lookup(1, 5)).toBe(3);
  });

  it('thread_per_peer_declares_a_crashed_peer_down_then_stops_its_thread', async () => {
    const link = await fakeLink(threadPerPeer, { nodes: 3 });
    link.runUntil(2000);
    expect(link.reports[0].up).toEqual(new Set([1, 2]));
    link.crash(1);
    link.runUntil(2000 + FAIL_AFTER + INTERVAL + SLACK);
    expect(link.reports[0].downs).toEqual([1]);
    // the membership service no longer lists it: the next poll ends its thread
    link.runUntil(2000 + FAIL_AFTER + INTERVAL + POLL + SLACK);
    expect(link.threadsOf(0)).toBe(1);
    expect(link.sim.nodes[0].fds).toBe(1);
  });

  it('thread_per_peer_untracks_a_peer_whose_thread_the_limit_refuses_and_never_hears_it', async () => {
    // room for one peer thread per node: of two peers, the second listed is refused
    const link = await fakeLink(threadPerPeer, { nodes: 3, sets: [`limits.threadsPerNode=${LIMITS.baseThreadsPerNode.value + 1}`] });
    link.runUntil(1000);
    expect(link.threadsOf(0)).toBe(1);
    expect(link.reports[0].limits).toContain('threads');
    expect(link.counters.get('spawnRefused')).toBeGreaterThan(0);
    // node 2 tracks node 0 (its first peer), so it syncs to node 0; node 0 has no thread for it
    link.originate(2, 7, 1, 2);
    link.runUntil(1000 + 10 * INTERVAL);
    expect(link.reports[1].shards.has(7)).toBe(false); // node 2 has no thread for node 1 either
    expect(link.reports[0].shards.has(7)).toBe(false);
    expect(link.counters.get('untrackedMessagesDropped')).toBeGreaterThan(0);
    expect(link.reports[0].up.has(2)).toBe(false);
  });

  it('thread_per_peer_ends_the_thread_of_a_peer_that_leaves', async () => {
    const link = await fakeLink(threadPerPeer, { nodes: 3 });
    link.runUntil(2000);
    link.leave(2);
    link.runUntil(2000 + INTERVAL);
    expect(link.threadsOf(0)).toBe(1);
    expect(link.reports[0].up).toEqual(new Set([1]));
  });
});
