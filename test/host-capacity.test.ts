/** Capacity per host: nodes are counted per host (round robin) and a host that cannot hold its share is named. */
import { describe, expect, it } from 'vitest';
import { resolveRun } from '../src/harness/run-config.ts';
import { nodeEstimate } from '../src/live/capacity.ts';
import { AGENT_BYTES, planHosts } from '../src/live/host-capacity.ts';
import { LiveSectionSchema } from '../src/live/schema.ts';

const GB = 1e9;
const host = (index: number, availableBytes: number) => ({ index, address: `198.18.0.${index + 2}`, info: { availableBytes, cpus: 2 } });

describe('planHosts', () => {
  it.each([
    [10, 3, [4, 3, 3]],
    [4, 4, [1, 1, 1, 1]],
    [3, 4, [1, 1, 1, 0]],
  ])('N=%i over %i hosts puts %j nodes on each', (n, k, want) => {
    const cfg = resolveRun({ protocol: 'swim', scenario: 'steady', nodes: n });
    const loads = planHosts(cfg, Array.from({ length: k }, (_, i) => host(i, 100 * GB)));
    expect(loads.map((l) => l.nodes)).toEqual(want);
    const per = nodeEstimate(cfg).bytesPerNode;
    for (const l of loads) expect(l.estimatedBytes).toBe(l.nodes * per + AGENT_BYTES.value);
  });

  it('counts the nodes a scenario adds', () => {
    const cfg = resolveRun({ protocol: 'thread-per-peer', scenario: 'kinesis-2020-mini' });
    const loads = planHosts(cfg, [host(0, 100 * GB), host(1, 100 * GB)]);
    expect(loads[0].nodes + loads[1].nodes).toBe(nodeEstimate(cfg).processes);
    expect(nodeEstimate(cfg).processes).toBeGreaterThan(cfg.nodes);
  });

  it('refuses a host that cannot hold its share, naming it and the numbers', () => {
    const cfg = resolveRun({ protocol: 'async-multiplexed', scenario: 'steady', nodes: 8 });
    expect(() => planHosts(cfg, [host(0, 100 * GB), host(1, 0.2 * GB)])).toThrow(/host 1 \(198\.18\.0\.3\) cannot hold its 4 async-multiplexed nodes: ≈ [\d.]+ GB needed, 0\.17 GB available/);
  });

  it("its loads are what the result's live.hosts records; live.hosts and live.faultLog are optional", () => {
    const cfg = resolveRun({ protocol: 'swim', scenario: 'steady', nodes: 6 });
    const perHost = planHosts(cfg, [host(0, 100 * GB), host(1, 100 * GB)]);
    const shape = LiveSectionSchema.shape;
    expect(shape.hosts.parse({ kind: 'netns', perHost })).toEqual({ kind: 'netns', perHost });
    expect(shape.hosts.parse(undefined)).toBeUndefined();
    expect(shape.faultLog.parse([{ atMs: 1000, line: 'partition {h0} | {h1}: nftables …' }])).toHaveLength(1);
  });
});
