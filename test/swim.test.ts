import { describe, expect, it } from 'vitest';
import type { NodeId } from '../src/contract/protocol.ts';
import { fakeNode } from '../src/harness/fake-node.ts';
import { resolveRun } from '../src/harness/run-config.ts';
import type { Scenario } from '../src/harness/scenario.ts';
import { runSim } from '../src/sim/run.ts';
import { swim } from '../protocols/swim/index.ts';
import { SwimNode } from '../protocols/swim/node.ts';
import { ALIVE, DEAD, LEFT, SUSPECT, UNKNOWN } from '../protocols/swim/members.ts';
import { ACK, GOSSIP, NACK, PING, PING_REQ, PUSH_PULL, U_ALIVE, U_DEAD, U_LEFT, U_SHARD, U_SUSPECT, type SwimMsg } from '../protocols/swim/messages.ts';
import { pushPullScaleMs, suspicionTimeoutMs } from '../protocols/swim/timing.ts';
import { SWIM_PARAMS } from '../protocols/swim/params.ts';

// ---- a fake context: one node, a virtual clock, timers run by `advance` ----------------------

/** `autoAck`: every ping this node sends is acked by its target right after the handler returns. */
function harness(opts: { self?: NodeId; members?: NodeId[]; params?: Record<string, number | boolean | string>; startAt?: number; autoAck?: boolean; seed?: number } = {}) {
  let seed = opts.seed ?? 12345;
  const acks: Array<[NodeId, number]> = [];
  const fake = fakeNode<SwimMsg>(swim, {
    self: opts.self ?? 0,
    members: opts.members ?? [0, 1, 2, 3, 4],
    shards: 8,
    shardCluster: () => 0,
    params: opts.params,
    startAt: opts.startAt,
    random: () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32),
    onSend: (to, msg) => {
      if (opts.autoAck && msg.t === PING) acks.push([to, msg.seq]);
    },
    afterTimer: () => {
      for (const [from, seq] of acks.splice(0)) fake.node.onMessage(from, { t: ACK, seq, u: [] });
    },
  });
  return Object.assign(fake, {
    node: fake.node as SwimNode,
    gossip(from: NodeId, ...u: number[]) {
      fake.node.onMessage(from, { t: GOSSIP, u });
    },
  });
}

const state = (h: ReturnType<typeof harness>, m: NodeId) => h.node.members.state(m);
/** When this node sent each probe ping (to the target it named) over the next `ms`, at 1 ms steps. */
function pingTimes(h: ReturnType<typeof harness>, ms: number): number[] {
  const times: number[] = [];
  for (let t = 0; t < ms; t++) {
    const before = h.sent.length;
    h.advance(1);
    for (const s of h.sent.slice(before)) if (s.msg.t === PING) times.push(h.now);
  }
  return times;
}
const inc = (h: ReturnType<typeof harness>, m: NodeId) => h.node.members.incarnation(m);

// ---- incarnation override rules: one test per rule (SWIM §4.2, memberlist state.go) --------------

describe('swim state handlers', () => {
  it('swim_boot_members_start_alive_and_up', () => {
    const h = harness();
    expect(h.ups.sort()).toEqual([1, 2, 3, 4]);
    expect(state(h, 3)).toBe(ALIVE);
  });

  it('swim_alive_about_unknown_member_adds_it', () => {
    const h = harness();
    h.gossip(1, U_ALIVE, 9, 0, 0);
    expect(state(h, 9)).toBe(ALIVE);
    expect(h.ups).toContain(9);
  });

  it('swim_suspect_overrides_alive_at_same_or_higher_incarnation', () => {
    const h = harness();
    h.gossip(1, U_SUSPECT, 2, 0, 1);
    expect(state(h, 2)).toBe(SUSPECT);
    expect(h.counters.suspicions).toBe(1);
    expect(h.downs).toEqual([]); // suspicion alone changes no view
  });

  it('swim_suspect_with_older_incarnation_is_ignored', () => {
    const h = harness();
    h.gossip(1, U_ALIVE, 2, 5, 0);
    h.gossip(1, U_SUSPECT, 2, 4, 1);
    expect(state(h, 2)).toBe(ALIVE);
  });

  it('swim_alive_with_higher_incarnation_overrides_suspect', () => {
    const h = harness();
    h.gossip(1, U_SUSPECT, 2, 0, 1);
    h.gossip(3, U_ALIVE, 2, 1, 0);
    expect(state(h, 2)).toBe(ALIVE);
    expect(inc(h, 2)).toBe(1);
    expect(h.node.suspicion(2)).toBeUndefined();
  });

  it('swim_alive_with_same_incarnation_does_not_override_suspect', () => {
    const h = harness();
    h.gossip(1, U_SUSPECT, 2, 3, 1);
    h.gossip(3, U_ALIVE, 2, 3, 0);
    expect(state(h, 2)).toBe(SUSPECT);
  });

  it('swim_suspect_with_higher_incarnation_overrides_older_suspect', () => {
    const h = harness();
    h.gossip(1, U_SUSPECT, 2, 1, 1);
    h.gossip(3, U_SUSPECT, 2, 2, 3);
    expect(state(h, 2)).toBe(SUSPECT);
    expect(inc(h, 2)).toBe(2);
    expect(h.node.suspicion(2)?.incarnation).toBe(2);
  });

  it('swim_dead_overrides_alive_and_suspect', () => {
    const h = harness();
    h.gossip(1, U_DEAD, 2, 0, 0);
    h.gossip(1, U_SUSPECT, 3, 0, 1);
    h.gossip(1, U_DEAD, 3, 0, 0);
    expect(state(h, 2)).toBe(DEAD);
    expect(state(h, 3)).toBe(DEAD);
    expect(h.downs).toEqual([2, 3]);
  });

  it('swim_dead_with_older_incarnation_is_ignored (memberlist; the paper lets confirm override any)', () => {
    const h = harness();
    h.gossip(1, U_ALIVE, 2, 4, 0);
    h.gossip(1, U_DEAD, 2, 3, 0);
    expect(state(h, 2)).toBe(ALIVE);
    expect(h.downs).toEqual([]);
  });

  it('swim_dead_member_stays_dead_for_suspect_and_same_incarnation_alive', () => {
    const h = harness();
    h.gossip(1, U_DEAD, 2, 1, 0);
    h.gossip(1, U_SUSPECT, 2, 1, 3);
    h.gossip(1, U_ALIVE, 2, 1, 0);
    h.gossip(1, U_DEAD, 2, 1, 0);
    expect(state(h, 2)).toBe(DEAD);
    expect(h.downs).toEqual([2]); // reported down once
  });

  it('swim_alive_with_higher_incarnation_revives_a_dead_member (memberlist)', () => {
    const h = harness();
    h.gossip(1, U_DEAD, 2, 1, 0);
    h.gossip(1, U_ALIVE, 2, 2, 0);
    expect(state(h, 2)).toBe(ALIVE);
    expect(h.ups.filter((m) => m === 2)).toHaveLength(2);
  });

  it('swim_left_is_reported_down_like_dead', () => {
    const h = harness();
    h.gossip(1, U_LEFT, 4, 1, 0);
    expect(state(h, 4)).toBe(LEFT);
    expect(h.downs).toEqual([4]);
  });

  it('swim_suspect_about_me_is_refuted_with_a_higher_incarnation', () => {
    const h = harness();
    h.gossip(1, U_SUSPECT, 0, 3, 1);
    expect(inc(h, 0)).toBe(4);
    expect(state(h, 0)).toBe(ALIVE);
    expect(h.counters.refutations).toBe(1);
    expect(h.node.queue.snapshot()).toContainEqual([U_ALIVE, 0, 4, 0, 0]);
  });

  it('swim_dead_about_me_is_refuted', () => {
    const h = harness();
    h.gossip(1, U_DEAD, 0, 0, 0);
    expect(inc(h, 0)).toBe(1);
    expect(state(h, 0)).toBe(ALIVE);
    expect(h.counters.refutations).toBe(1);
  });

  it('swim_updates_about_unknown_members_other_than_alive_are_ignored', () => {
    const h = harness();
    h.gossip(1, U_SUSPECT, 42, 0, 1, U_DEAD, 43, 0, 0);
    expect(state(h, 42)).toBe(UNKNOWN);
    expect(state(h, 43)).toBe(UNKNOWN);
  });

  it('swim_suspicion_expires_into_dead_after_the_log_scaled_timeout', () => {
    // the paper's fixed timeout (Lifeguard's shrinks with confirmations: tested below)
    const h = harness({ params: { lifeguard: false } });
    h.gossip(1, U_SUSPECT, 2, 0, 1);
    const timeout = suspicionTimeoutMs(4, 5, 1000); // 5 known members
    h.advance(timeout - 1);
    expect(state(h, 2)).toBe(SUSPECT);
    h.advance(1);
    expect(state(h, 2)).toBe(DEAD);
    expect(h.downs).toEqual([2]);
  });

  it('swim_lifeguard_confirmations_shorten_the_suspicion', () => {
    const members = Array.from({ length: 20 }, (_, i) => i);
    const plainDeadline = (confirm: boolean) => {
      const h = harness({ members, params: { lifeguard: true }, autoAck: true });
      h.gossip(1, U_SUSPECT, 2, 0, 1);
      const s = h.node.suspicion(2)!;
      expect(s.k).toBe(2);
      if (confirm) h.gossip(3, U_SUSPECT, 2, 0, 3, U_SUSPECT, 2, 0, 4);
      let t = 0;
      while (state(h, 2) === SUSPECT && t < 200_000) (h.advance(100), (t += 100));
      return t;
    };
    const min = suspicionTimeoutMs(4, 20, 1000);
    expect(plainDeadline(false)).toBeGreaterThanOrEqual(6 * min); // starts at max = 6 × min
    expect(plainDeadline(true)).toBeLessThanOrEqual(min + 100); // k = 2 confirmations → min
  });

  it('swim_shard_update_applies_newer_versions_once_and_rebroadcasts', () => {
    const h = harness();
    h.gossip(1, U_SHARD, 3, 7, 2);
    h.gossip(1, U_SHARD, 3, 5, 2);
    h.gossip(1, U_SHARD, 3, 5, 1);
    expect(h.node.lookup(3)).toBe(7);
    expect(h.shardUpdates).toEqual([[3, 2]]);
    expect(h.node.queue.snapshot()).toContainEqual([U_SHARD, 3, 7, 2, 0]);
  });
});

describe('swim probe loop', () => {
  it('swim_probe_without_ack_asks_k_members_then_suspects_at_the_end_of_the_period', () => {
    const h = harness({ members: [0, 1, 2, 3, 4, 5, 6] });
    h.advance(1000); // the first probe tick falls within one interval
    const ping = h.sent.find((s) => s.msg.t === PING)!;
    expect(ping).toBeDefined();
    const target = ping.to;
    h.sent.length = 0;
    h.advance(500); // probe timeout
    const reqs = h.sent.filter((s) => s.msg.t === PING_REQ);
    expect(reqs).toHaveLength(3);
    expect(new Set(reqs.map((r) => r.to)).size).toBe(3);
    expect(reqs.every((r) => r.to !== target && r.to !== 0)).toBe(true);
    h.advance(500);
    expect(state(h, target)).toBe(SUSPECT);
  });

  it('swim_acked_probes_raise_no_suspicion', () => {
    const h = harness({ autoAck: true });
    h.advance(10_000);
    expect(h.sent.filter((s) => s.msg.t === PING)).toHaveLength(10);
    expect(h.counters.suspicions ?? 0).toBe(0);
    expect(h.sent.filter((s) => s.msg.t === PING_REQ)).toHaveLength(0);
  });

  it('swim_relays_ping_req_and_forwards_the_ack_with_the_requesters_seq', () => {
    const h = harness();
    h.node.onMessage(1, { t: PING_REQ, seq: 77, target: 2, nack: true, u: [] });
    const relayPing = h.sent.find((s) => s.msg.t === PING && s.to === 2)!;
    h.node.onMessage(2, { t: ACK, seq: (relayPing.msg as { seq: number }).seq, u: [] });
    expect(h.sent.find((s) => s.to === 1 && s.msg.t === ACK && s.msg.seq === 77)).toBeDefined();
  });

  it('swim_relay_nacks_one_full_probe_timeout_after_its_ping_when_the_target_is_silent (lifeguard)', () => {
    // memberlist handleIndirectPing: time.After(ProbeTimeout), not the Lifeguard paper's 80 %
    const h = harness();
    const timeout = SWIM_PARAMS.probeTimeoutMs.default;
    h.node.onMessage(1, { t: PING_REQ, seq: 78, target: 2, nack: true, u: [] });
    const nack = () => h.sent.find((s) => s.to === 1 && s.msg.t === NACK && s.msg.seq === 78);
    h.advance(timeout - 1);
    expect(nack()).toBeUndefined();
    h.advance(1);
    expect(nack()).toBeDefined();
  });

  it('swim_lifeguard_a_failed_probe_holds_the_loop_until_its_awareness_scaled_deadline', () => {
    // nobody answers: each failed probe misses all 3 nacks (+3 awareness) and holds the loop
    // for ProbeInterval × (score + 1), as memberlist probeNode's deadline
    const h = harness({ members: [0, 1, 2, 3, 4, 5, 6], params: { lifeguard: true } });
    const times = pingTimes(h, 20_000);
    expect(times.slice(1, 4).map((t, i) => t - times[i])).toEqual([1000, 4000, 7000]);
    expect(h.node.awarenessScore).toBe(7); // capped at awarenessMaxMultiplier − 1
  });

  it('swim_lifeguard_awareness_does_not_slow_acked_probes', () => {
    // memberlist's ticker keeps ProbeInterval; an acked probe returns at its ack
    const h = harness({ params: { lifeguard: true }, autoAck: true });
    h.gossip(1, U_SUSPECT, 0, 0, 1); // two refutations: +1 awareness each
    h.gossip(1, U_SUSPECT, 0, 1, 1);
    expect(h.node.awarenessScore).toBe(2);
    const times = pingTimes(h, 5000);
    expect(times.slice(1).map((t, i) => t - times[i])).toEqual([1000, 1000, 1000, 1000].slice(0, times.length - 1));
    expect(h.node.awarenessScore).toBe(0);
  });

  it('swim_lifeguard_buddy_ping_tells_a_suspect_it_is_suspected', () => {
    const h = harness({ members: [0, 1], params: { lifeguard: true } });
    h.gossip(1, U_SUSPECT, 1, 0, 1); // from itself is odd but fine: 1 is suspect here
    h.advance(1000);
    const ping = h.sent.find((s) => s.msg.t === PING && s.to === 1)!;
    expect(Array.from(ping.msg.t === PING ? ping.msg.u.slice(0, 4) : [])).toEqual([U_SUSPECT, 1, 0, 0]);
  });

  it('swim_ping_about_a_suspicion_of_me_is_answered_with_the_refutation', () => {
    const h = harness();
    h.node.onMessage(1, { t: PING, seq: 5, target: 0, u: [U_SUSPECT, 0, 0, 1] });
    const ack = h.sent.find((s) => s.msg.t === ACK)!;
    expect(ack.msg.t === ACK && Array.from(ack.msg.u)).toEqual([U_ALIVE, 0, 1, 0]);
  });

  it('swim_graceful_leave_sends_left_with_a_higher_incarnation', () => {
    const h = harness();
    h.node.leave();
    const g = h.sent.filter((s) => s.msg.t === GOSSIP);
    expect(g.length).toBe(3);
    expect(g[0].msg.t === GOSSIP && Array.from(g[0].msg.u.slice(0, 4))).toEqual([U_LEFT, 0, 1, 0]);
  });
});

// ---- whole-fleet behaviour in the simulator ------------------------------------------------

function scenario(name: string, nodes: number, durationMs: number, events: Scenario['events'], reshardsPerSec = 1): Scenario {
  return { name, description: name, nodes, durationMs, fleet: {}, reshards: { perSec: reshardsPerSec, fromMs: 0 }, limits: {}, network: {}, events };
}

const run = (scn: string | Scenario, nodes: number, durationMs: number, sets: string[] = [], seed = 1) =>
  runSim(resolveRun({ protocol: swim, scenario: scn, nodes, durationMs, seed, sets }));

// ---- when the first periodic push-pull comes (memberlist state.go pushPullTrigger) --------------

describe('swim push-pull schedule', () => {
  const interval = SWIM_PARAMS.pushPullIntervalMs.default as number;
  /** when each of `seeds` nodes (of `n` members) first sent a periodic push-pull, ms after start */
  function firstPushPulls(start: string, n: number, seeds: number): number[] {
    const out: number[] = [];
    for (let s = 0; s < seeds; s++) {
      const h = harness({ members: Array.from({ length: n }, (_, i) => i), params: { pushPullStart: start, reconnectIntervalMs: 0 }, autoAck: true, seed: 1000 + s });
      const horizon = interval + pushPullScaleMs(interval, n);
      let at = -1;
      for (let t = 0; t < horizon && at < 0; t += 100) {
        const before = h.sent.length;
        h.advance(100);
        if (h.sent.slice(before).some((x) => x.msg.t === PUSH_PULL)) at = h.now;
      }
      out.push(at);
    }
    return out;
  }
  // steady: a long-running member's phase is uniform over the scaled interval; agent-start: a
  // stagger in [0, interval), then the scaled interval — never before one scaled interval
  it.each([
    { start: 'steady', n: 8, from: 0, to: pushPullScaleMs(interval, 8) },
    { start: 'agent-start', n: 8, from: pushPullScaleMs(interval, 8), to: interval + pushPullScaleMs(interval, 8) },
    { start: 'agent-start', n: 64, from: pushPullScaleMs(interval, 64), to: interval + pushPullScaleMs(interval, 64) },
  ])('swim_first_push_pull_with_pushPullStart_$start_at_n_$n_falls_in_its_window', ({ start, n, from, to }) => {
    const times = firstPushPulls(start, n, 12);
    expect(new Set(times).size).toBeGreaterThan(6); // the stagger differs per node
    for (const t of times) {
      expect(t).toBeGreaterThanOrEqual(from);
      expect(t).toBeLessThanOrEqual(to + 100);
    }
  });
});

describe('swim in the simulator', () => {
  it('swim_messages_per_member_per_period_stay_flat_as_N_grows (piggyback only, as the paper)', async () => {
    const a = await run('steady', 100, 20_000, ['gossipIntervalMs=0']);
    const b = await run('steady', 1000, 20_000, ['gossipIntervalMs=0']);
    const ra = a.summary.messages.perNodePerSec, rb = b.summary.messages.perNodePerSec;
    expect(Math.abs(rb - ra) / ra).toBeLessThan(0.2);
  });

  it('swim_message_load_with_gossip_rounds_grows_no_faster_than_the_retransmit_limit', async () => {
    const a = await run('steady', 100, 20_000);
    const b = await run('steady', 1000, 20_000);
    // retransmitLimit: 4·ceil(log10 101) = 12 → 4·ceil(log10 1001) = 16
    expect(b.summary.messages.perNodePerSec / a.summary.messages.perNodePerSec).toBeLessThan(16 / 12);
  });

  it('swim_detects_a_crash_and_every_member_drops_it', async () => {
    const r = await run('crash', 100, 30_000);
    const m = r.summary.membership;
    expect(m.undetectedCrashes).toBe(0);
    expect(m.detectionMs.all).not.toBeNull();
    expect(m.falsePositives).toBe(0);
    expect(m.viewAccuracy).toBe(1);
  });

  it('swim_join_reaches_everyone_in_time_growing_like_log_N', async () => {
    const joinTimes: number[] = [];
    // long enough for a push-pull: a joiner another joiner missed by gossip (the joiner gap,
    // pinned below) is learned there, so every join converges
    for (const n of [50, 200, 800]) {
      const r = await run(scenario('join5', n, 40_000, [{ type: 'add', atMs: 5000, count: 5, overMs: 2000 }]), n, 40_000);
      expect(r.summary.membership.unconvergedJoins).toBe(0);
      // the median join: a straggler of the joiner gap waits for a push-pull, whatever N is
      joinTimes.push(r.summary.membership.joinConvergenceMs!.p50);
    }
    // 16× the members; linear growth would be 16×, log growth ~1.7×
    expect(joinTimes[2] / joinTimes[0]).toBeLessThan(4);
  });

  it('swim_refutes_false_suspicion_of_a_paused_member', async () => {
    // a 6 s freeze: long enough to be probed and suspected, shorter than the 8 s suspicion timeout at N = 100
    const r = await run(scenario('pause', 100, 20_000, [{ type: 'pause', atMs: 5000, count: 1, forMs: 6000 }]), 100, 20_000, ['lifeguard=false']);
    expect(r.summary.protocolCounters.suspicions).toBeGreaterThan(0);
    expect(r.summary.protocolCounters.refutations).toBeGreaterThan(0);
    expect(r.summary.membership.falsePositives).toBe(0);
  });

  it('swim_lifeguard_gives_fewer_false_positives_than_plain_under_heavy_loss', async () => {
    // 35 % loss, N = 100: plain SWIM declared live members dead on every one of these seeds
    let plain = 0, guarded = 0;
    for (const seed of [1, 2, 3]) {
      const scn = scenario('loss35', 100, 30_000, [{ type: 'loss', atMs: 0, rate: 0.35 }]);
      plain += (await run(scn, 100, 30_000, ['lifeguard=false'], seed)).summary.membership.falsePositives;
      guarded += (await run(scn, 100, 30_000, ['lifeguard=true'], seed)).summary.membership.falsePositives;
    }
    expect(plain).toBeGreaterThan(0);
    expect(guarded).toBeLessThan(plain);
  });

  it('swim_shard_map_updates_reach_every_node', async () => {
    const r = await run('steady', 100, 20_000);
    expect(r.summary.shardMap.stalenessMs).not.toBeNull();
    expect(r.summary.shardMap.stalenessMs!.p50).toBeLessThan(2000);
    expect(r.summary.shardMap.unconverged).toBeLessThanOrEqual(1); // at most one reshard from the last second
  });

  it('swim_kinesis_2020_hits_no_limit_and_routes_correctly_at_the_end', async () => {
    const r = await run('kinesis-2020', 280 - 40, 60_000);
    expect(r.summary.limitsHit).toEqual([]);
    expect(r.summary.requests.tailMisrouteRate).toBe(0);
    expect(r.summary.membership.unconvergedJoins).toBe(0);
  });

  it('swim_random_probe_order_also_detects_a_crash', async () => {
    const r = await run('crash', 100, 30_000, ['probeOrder=random']);
    expect(r.summary.membership.undetectedCrashes).toBe(0);
    expect(r.summary.membership.detectionMs.all).not.toBeNull();
  });

  it('swim_heals_after_a_partition', async () => {
    const r = await run('partition', 100, 90_000);
    expect(r.summary.membership.falsePositives).toBeGreaterThan(0); // each side declared the other dead
    expect(r.summary.membership.viewAccuracy).toBeGreaterThanOrEqual(0.99);
    expect(r.summary.requests.tailMisrouteRate).toBeLessThanOrEqual(0.001);
  });

  it('swim_graceful_leave_is_seen_by_every_member', async () => {
    const r = await run(scenario('leave', 100, 10_000, [{ type: 'remove', atMs: 3000, count: 2 }]), 100, 10_000);
    expect(r.summary.membership.viewAccuracy).toBe(1);
    expect(r.summary.membership.falsePositives).toBe(0);
  });

  // Pinned, not a bug of the model: memberlist (and Serf's user events) disseminate by
  // transmit-limited gossip, and a joiner is only a gossip target once others know it. A reshard
  // gossiped in that window (after the joiner's join push-pull, before it is known) has used up
  // its transmits before the joiner is a target; it arrives with the next periodic push-pull
  // (pushPullIntervalMs, scaled). Live runs of kinesis-2020-mini show the same (test/live.test.ts).
  it('swim_a_reshard_gossiped_before_a_joiner_is_known_reaches_it_at_the_next_push_pull', async () => {
    const short = await runSim(resolveRun({ protocol: swim, scenario: 'kinesis-2020-mini', seed: 2 }));
    // gossip reaches every member in well under a second here; this reshard took seconds
    expect(short.summary.shardMap.stalenessMs!.max).toBeGreaterThan(5000);
    expect(short.summary.requests.tailMisrouteRate).toBeGreaterThan(0);
    // the same run, long enough for a push-pull: every reshard arrives, later than gossip would bring it
    const long = await runSim(resolveRun({ protocol: swim, scenario: 'kinesis-2020-mini', seed: 2, durationMs: 45_000 }));
    expect(long.summary.shardMap.unconverged).toBe(0);
    expect(long.summary.shardMap.stalenessMs!.max).toBeLessThanOrEqual(swim.params.pushPullIntervalMs.default as number);
    expect(long.summary.healthy).toBe(true);
  });
});
