// Connections behave like TCP and links have a rate: loss on a connection costs retransmission
// delay, not the message; datagrams stay lossy; a connection breaks only once its retries run out;
// a node's bytes queue on its link.
import { describe, expect, it } from 'vitest';
import { scenarioLike, simulate } from './helpers.ts';

const lossy = (rate: number) => scenarioLike('steady', { nodes: 16, durationMs: 20_000, events: [{ type: 'loss', atMs: 0, rate }] });

describe('connections behave like TCP', () => {
  it('5 % loss on connections: retransmitted and delivered, nothing dropped, no false positive', async () => {
    for (const protocol of ['async-multiplexed', 'thread-per-peer']) {
      const r = await simulate({ protocol, scenario: lossy(0.05), nodes: 16 });
      expect(r.summary.protocolCounters.tcpRetransmits, protocol).toBeGreaterThan(0);
      expect(r.summary.messages.dropped, protocol).toBe(0);
      expect(r.summary.membership.falsePositives, protocol).toBe(0);
      expect(r.summary.protocolCounters.tcpConnectionsBroken ?? 0, protocol).toBe(0);
    }
  });

  it('datagrams stay lossy: swim loses messages under the same loss and retransmits none', async () => {
    const r = await simulate({ protocol: 'swim', scenario: lossy(0.05), nodes: 16 });
    expect(r.summary.messages.dropped).toBeGreaterThan(0);
    expect(r.summary.protocolCounters.tcpRetransmits ?? 0).toBe(0);
  });

  it('sustained loss breaks connections once retries run out, and the protocol sees its peers go silent', async () => {
    // every segment lost: with 2 retries of 200 ms doubling, a connection breaks 1.4 s after a send
    const r = await simulate({ protocol: 'async-multiplexed', scenario: lossy(1), nodes: 16, sets: ['network.tcpRetries=2'] });
    expect(r.summary.protocolCounters.tcpConnectionsBroken).toBeGreaterThan(0);
    expect(r.summary.membership.viewAccuracy).toBeLessThan(1);
  });

  it('a slow link delays what a node sends: reshards take longer to reach everyone', async () => {
    const at = (rate: string) => simulate({ protocol: 'async-multiplexed', scenario: 'steady', nodes: 16, durationMs: 10_000, sets: [`network.linkBytesPerSec=${rate}`] });
    const fast = await at('1.25e9');
    const slow = await at('2000'); // a full-state sync of ~1 KiB takes half a second to serialise
    expect(slow.summary.shardMap.stalenessMs!.p50).toBeGreaterThan(fast.summary.shardMap.stalenessMs!.p50);
  });
});
