/**
 * Scenario network faults mapped onto namespace hosts: which hosts a partition puts on each side,
 * which node pairs a fault between hosts cannot touch, and the faults applied to real namespaces
 * (root only; skipped with the reason otherwise).
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetnsHosts, netemUnavailableReason, netnsUnavailableReason } from '../src/live/netns.ts';
import { NetnsFaults, partitionHosts, sameHostPairs } from '../src/live/netns-faults.ts';

const reason = await netnsUnavailableReason();
const noNetem = reason ?? (await netemUnavailableReason());

describe('fault mapping', () => {
  it.each([
    [0.5, 4, [[0, 1], [2, 3]]],
    [0.1, 4, [[0], [1, 2, 3]]],
    [0.9, 4, [[0, 1, 2], [3]]],
    [0.5, 2, [[0], [1]]],
    [0.3, 10, [[0, 1, 2], [3, 4, 5, 6, 7, 8, 9]]],
  ])('a partition of fraction %f over %i hosts splits them %j (at least one host a side)', (fraction, k, want) => {
    expect(partitionHosts(fraction, k)).toEqual(want);
  });
  it.each([
    [0.5, 1, /at least 2 hosts/],
    [0, 4, /partition.fraction/],
    [1, 4, /partition.fraction/],
  ])('partition %f over %i hosts is refused', (fraction, k, msg) => {
    expect(() => partitionHosts(fraction, k)).toThrow(msg);
  });
  it.each([
    [[0, 1, 0, 1], { same: 2, total: 6 }],
    [[0, 1, 2, 3], { same: 0, total: 6 }],
    [[0, 0, 0], { same: 3, total: 3 }],
  ])('nodes on hosts %j: %o node pairs share a host', (hosts, want) => {
    expect(sameHostPairs(hosts)).toEqual(want);
  });
});

describe.skipIf(reason !== null)(`faults on namespace hosts${reason ? ` — skipped: ${reason}` : ''}`, () => {
  let hosts: NetnsHosts;
  beforeAll(async () => {
    hosts = await NetnsHosts.create(3);
  }, 30_000);
  afterAll(async () => hosts?.teardown(), 30_000);
  const pings = (from: number, to: number) => {
    try {
      execFileSync('ip', ['netns', 'exec', hosts.hosts[from].name, 'ping', '-c', '1', '-W', '1', '-q', hosts.hosts[to].address], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };

  it('loss covers every host-to-host link and says which node pairs it cannot reach', async () => {
    const f = new NetnsFaults(hosts);
    const line = await f.apply({ type: 'loss', rate: 0.05 }, [0, 1, 2, 0, 1, 2]);
    expect(line).toMatch(/^loss 5% on all 6 host-to-host links/);
    expect(line).toContain('3 of 15 node pairs share a host and are not affected');
    expect(await f.apply({ type: 'loss', rate: 0 }, [0, 1, 2])).toMatch(/^loss 0% on all 6/);
    expect(pings(0, 1)).toBe(true);
  }, 30_000);

  it('a partition splits by hosts, reports the node fraction achieved, and heal restores', async () => {
    const f = new NetnsFaults(hosts);
    const line = await f.apply({ type: 'partition', fraction: 0.5 }, [0, 1, 2, 0, 1, 2]);
    expect(line).toContain('{h0,h1} | {h2}');
    expect(line).toContain('4 of 6 nodes on the first side (asked 0.5, got 0.667');
    expect(pings(0, 2)).toBe(false);
    expect(pings(1, 0)).toBe(true);
    expect(await f.apply({ type: 'heal' }, [0, 1, 2])).toMatch(/^heal: /);
    expect(pings(0, 2)).toBe(true);
  }, 30_000);

  it(`latency is tc netem on the chosen links${noNetem ? ' (refused here: no netem)' : ''}`, async () => {
    const f = new NetnsFaults(hosts);
    const ev = { type: 'latency', delayMs: 20, between: [[0], [1]] } as const;
    if (noNetem) await expect(f.apply(ev, [0, 1, 2])).rejects.toThrow(/tc netem is unavailable/);
    else expect(await f.apply(ev, [0, 1, 2])).toMatch(/^latency 20ms one-way between hosts \{0\} and \{1\} \(2 links, tc netem\)/);
  }, 30_000);
});
