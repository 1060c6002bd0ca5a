import { describe, expect, it } from 'vitest';
import { ceiling } from '../src/ceiling/ceiling.ts';
import { parseSlo, evaluateSlo } from '../src/ceiling/slo.ts';
import { LIMITS } from '../src/model/defaults.ts';
import { UsageError } from '../src/errors.ts';
import { CeilingResultSchema } from '../src/ceiling/schema.ts';

const FAST = { scenario: 'steady', durationMs: 2000 } as const;
/**
 * No routed requests: at 2 simulated seconds a single reshard's misroutes can exceed the tail SLO
 * at some N and not others, which would make health non-monotone in N for reasons unrelated to
 * the limit under test. Membership, threads and fds are unaffected.
 */
const NO_TRAFFIC = 'fleet.requestsPerSec=0';
const BASE_THREADS = LIMITS.baseThreadsPerNode.value;

/** the largest N with cost(N) ≤ limit, by counting up: the expected ceiling, computed independently */
function largestWithin(limit: number, cost: (n: number) => number): number {
  let n = 1;
  while (cost(n + 1) <= limit) n++;
  return n;
}

describe('ceiling', () => {
  it('thread_per_peer_ceiling_is_the_thread_limit', async () => {
    const limit = 64;
    const c = await ceiling({ protocol: 'thread-per-peer', ...FAST, sets: [`limits.threadsPerNode=${limit}`, NO_TRAFFIC], maxNodes: 1000 });
    const expected = largestWithin(limit, (n) => n - 1 + BASE_THREADS);
    expect(c.status).toBe('found');
    expect(c.ceiling).toBe(expected);
    expect(c.firstFailing).toMatchObject({ nodes: expected + 1, binding: { kind: 'limit', name: 'threads' } });
    // the evidence: every measured run on the healthy side is healthy, every one beyond fails on threads
    for (const r of c.runs) {
      expect(r.healthy).toBe(r.nodes <= expected);
      if (!r.healthy) expect(r.failures[0]).toMatchObject({ kind: 'limit', name: 'threads' });
    }
    expect(c.projection).toBeNull();
    expect(CeilingResultSchema.safeParse(JSON.parse(JSON.stringify(c))).success).toBe(true);
  });

  it('async_multiplexed_ceiling_is_the_fd_limit', async () => {
    const limit = 40;
    const c = await ceiling({ protocol: 'async-multiplexed', ...FAST, sets: [`limits.fdsPerNode=${limit}`, NO_TRAFFIC], maxNodes: 1000 });
    const expected = largestWithin(limit, (n) => n - 1);
    expect(c.ceiling).toBe(expected);
    expect(c.firstFailing).toMatchObject({ nodes: expected + 1, binding: { kind: 'limit', name: 'fds' } });
  });

  it('an_slo_can_bind_before_any_limit', async () => {
    const c = await ceiling({ protocol: 'async-multiplexed', ...FAST, slos: ['perNodePerSec<=20'], sets: [NO_TRAFFIC], maxNodes: 1000 });
    expect(c.firstFailing!.binding).toMatchObject({ kind: 'slo', name: 'perNodePerSec<=20' });
    expect(c.firstFailing!.nodes).toBe(c.ceiling! + 1);
    const at = (n: number) => c.runs.find((r) => r.nodes === n)!.result.summary.messages.perNodePerSec;
    expect(at(c.ceiling!)).toBeLessThanOrEqual(20);
    expect(at(c.firstFailing!.nodes)).toBeGreaterThan(20);
  });

  it('bisects_down_when_the_first_size_already_fails', async () => {
    const c = await ceiling({ protocol: 'thread-per-peer', ...FAST, sets: ['limits.threadsPerNode=12', NO_TRAFFIC], startNodes: 4 });
    expect(c.ceiling).toBe(largestWithin(12, (n) => n - 1 + BASE_THREADS));
    expect(c.firstFailing!.binding.name).toBe('threads');
  });

  it('stops_at_max_nodes_when_everything_is_healthy', async () => {
    const c = await ceiling({ protocol: 'async-multiplexed', ...FAST, sets: [NO_TRAFFIC], maxNodes: 12 });
    expect(c.status).toBe('max-reached');
    expect(c.ceiling).toBe(12);
    expect(c.firstFailing).toBeNull();
    expect(c.runs.map((r) => r.nodes)).toEqual([2, 4, 8, 12]);
  });

  it('projects_and_labels_when_a_run_is_beyond_the_machine', async () => {
    // a budget no run fits: the search measures until it can estimate, then projects
    const c = await ceiling({
      protocol: 'thread-per-peer',
      ...FAST,
      sets: ['limits.threadsPerNode=64', NO_TRAFFIC],
      startNodes: 8,
      budget: { rssBytes: 1 },
    });
    expect(c.status).toBe('beyond-machine');
    expect(c.runs.map((r) => r.nodes)).toEqual([8, 16]);
    expect(c.ceiling).toBe(16); // measured
    const p = c.projection!;
    expect(p.label).toBe('projected');
    expect(p.blockedAtNodes).toBe(32);
    expect(p.reason).toMatch(/beyond this machine/);
    expect(p.binding).toMatchObject({ kind: 'limit', name: 'threads' });
    const truth = largestWithin(64, (n) => n - 1 + BASE_THREADS);
    expect(Math.abs(p.ceiling! - truth) / truth).toBeLessThan(0.25);
  });

  it('rejects_bad_slos_and_options_before_running', async () => {
    expect(() => parseSlo('misrouteRate=0.1')).toThrow(/--slo/);
    expect(() => parseSlo('nonsense<=1')).toThrow(/"nonsense" is not a numeric figure/);
    expect(parseSlo('misrouteRate<=0.001').path).toEqual(['requests', 'misrouteRate']);
    expect(parseSlo('detectionMs.first.p99<=10000').path).toEqual(['membership', 'detectionMs', 'first', 'p99']);
    await expect(ceiling({ protocol: 'nope', ...FAST })).rejects.toThrow(UsageError);
    await expect(ceiling({ protocol: 'thread-per-peer', ...FAST, maxNodes: 0 })).rejects.toThrow(/--max-nodes/);
    await expect(ceiling({ protocol: 'thread-per-peer', ...FAST, slos: ['x<1'] })).rejects.toThrow(/--slo/);
  });

  it('a_detection_slo_without_crashes_is_not_applicable', async () => {
    const c = await ceiling({ protocol: 'async-multiplexed', ...FAST, slos: ['detectionMs.first.p99<=10000'], sets: [NO_TRAFFIC], maxNodes: 4 });
    expect(c.status).toBe('max-reached');
    const e = evaluateSlo(parseSlo('detectionMs.first.p99<=10000'), c.runs[0].result);
    expect(e).toMatchObject({ ok: true, value: null, note: 'not measured in this scenario' });
  });
});
