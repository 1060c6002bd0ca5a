/**
 * SWIM parameters: the one place their defaults live (README and tests read this object).
 * Defaults are memberlist's DefaultLANConfig (config.go) unless the source says otherwise.
 */
import type { ParamSpec, ParamValues } from '../../src/contract/protocol.ts';

export const SWIM_PARAMS = {
  probeIntervalMs: {
    default: 1000,
    unit: 'ms',
    min: 1,
    description: 'the protocol period T\': one probe per member per period; lower → faster detection, more messages',
    source: 'memberlist config.go DefaultLANConfig ProbeInterval = 1 s',
  },
  probeTimeoutMs: {
    default: 500,
    unit: 'ms',
    min: 1,
    description: 'wait for a direct ack before asking k members to probe indirectly; should exceed the 99th-percentile round trip',
    source: 'memberlist config.go DefaultLANConfig ProbeTimeout = 500 ms',
  },
  indirectChecks: {
    default: 3,
    min: 0,
    integer: true,
    description: 'k, members asked to ping-req a target that missed its direct ack; higher → fewer false suspicions under loss, more messages',
    source: 'memberlist config.go DefaultLANConfig IndirectChecks = 3 (SWIM §3.1 k)',
  },
  retransmitMult: {
    default: 4,
    min: 1,
    integer: true,
    description: 'each update is sent retransmitMult × ceil(log10(N + 1)) times; higher → surer dissemination, more bytes',
    source: 'memberlist config.go DefaultLANConfig RetransmitMult = 4; formula util.go retransmitLimit',
  },
  suspicionMult: {
    default: 4,
    min: 1,
    description: 'suspicion timeout = suspicionMult × max(1, log10 N) × probe interval; higher → fewer false positives, slower detection',
    source: 'memberlist config.go DefaultLANConfig SuspicionMult = 4; formula util.go suspicionTimeout',
  },
  suspicionMaxTimeoutMult: {
    default: 6,
    min: 1,
    description: 'Lifeguard: the suspicion timeout starts at this × the base timeout and shrinks with independent confirmations',
    source: 'memberlist config.go DefaultLANConfig SuspicionMaxTimeoutMult = 6; formula suspicion.go remainingSuspicionTime',
  },
  gossipIntervalMs: {
    default: 200,
    unit: 'ms',
    min: 0,
    description: 'a separate gossip round sends queued updates to gossipNodes members this often (only when updates are queued); 0 = piggyback only, as the SWIM paper',
    source: 'memberlist config.go DefaultLANConfig GossipInterval = 200 ms',
  },
  gossipNodes: {
    default: 3,
    min: 1,
    integer: true,
    description: 'members each gossip round (and a graceful leave) sends to',
    source: 'memberlist config.go DefaultLANConfig GossipNodes = 3',
  },
  gossipToTheDeadMs: {
    default: 30_000,
    unit: 'ms',
    min: 0,
    description: 'a dead member is still gossiped to (so it can refute) for this long, then forgotten; a forgotten member can be re-learned as new',
    source: 'memberlist config.go DefaultLANConfig GossipToTheDeadTime = 30 s',
  },
  pushPullIntervalMs: {
    default: 30_000,
    unit: 'ms',
    min: 0,
    description: 'full state exchange with one random member, scaled by pushPullScale above 32 nodes; 0 = only on join',
    source: 'memberlist config.go DefaultLANConfig PushPullInterval = 30 s; scaling util.go pushPullScale',
  },
  pushPullStart: {
    default: 'steady',
    choices: ['steady', 'agent-start'],
    description: "when a node's first periodic push-pull comes. steady: at a uniform phase of the interval, as in a fleet that has run for a while (the fleet starts converged); agent-start: memberlist's schedule for a process just started — a stagger uniform in [0, pushPullIntervalMs), then the scaled interval, so none in its first 30 s",
    source: 'memberlist state.go pushPullTrigger (a random stagger, then time.After(pushPullScale(interval, n)) each round)',
  },
  reconnectIntervalMs: {
    default: 30_000,
    unit: 'ms',
    min: 0,
    description: 'push-pull with a member the membership service lists but this node does not hold alive (heals partitions); 0 = off',
    source: 'serf config.go DefaultConfig ReconnectInterval = 30 s (memberlist alone never re-contacts forgotten members)',
  },
  joinRetryMs: {
    default: 1000,
    unit: 'ms',
    min: 1,
    description: 'a joining node retries its join push-pull with another member if no reply came within this time',
    source: 'assumption: one probe interval; memberlist Join is a TCP exchange with TCPTimeout 10 s and the caller retries',
  },
  awarenessMaxMultiplier: {
    default: 8,
    min: 1,
    integer: true,
    description: 'Lifeguard: the probe interval is multiplied by at most this when the node judges itself unhealthy',
    source: 'memberlist config.go DefaultLANConfig AwarenessMaxMultiplier = 8',
  },
  udpBufferBytes: {
    default: 1400,
    unit: 'bytes',
    min: 64,
    description: 'largest datagram; piggybacked updates fill what the message header leaves (and at most 255 of them)',
    source: 'memberlist config.go DefaultLANConfig UDPBufferSize = 1400 (fits a 1500-byte Ethernet MTU)',
  },
  probeOrder: {
    default: 'round-robin',
    choices: ['round-robin', 'random'],
    description: 'round-robin: shuffled list, reshuffled each pass, new members at random positions (bounded time to probe each member); random: uniform each period',
    source: 'SWIM paper §4.3 (round-robin, as memberlist state.go); §3 (random)',
  },
  lifeguard: {
    default: true,
    description: 'Lifeguard: local health awareness, nacks from indirect probers, dynamic suspicion timeout, buddy system; false runs the SWIM paper\'s protocol',
    source: 'Dadgar, Phillips, Currey, "Lifeguard", 2018; on by default as memberlist (and so Serf and Consul) always runs it',
  },
} as const satisfies Record<string, ParamSpec>;

export interface SwimConfig {
  probeIntervalMs: number;
  probeTimeoutMs: number;
  indirectChecks: number;
  retransmitMult: number;
  suspicionMult: number;
  suspicionMaxTimeoutMult: number;
  gossipIntervalMs: number;
  gossipNodes: number;
  gossipToTheDeadMs: number;
  pushPullIntervalMs: number;
  reconnectIntervalMs: number;
  joinRetryMs: number;
  awarenessMaxMultiplier: number;
  udpBufferBytes: number;
  probeOrder: 'round-robin' | 'random';
  pushPullStart: 'steady' | 'agent-start';
  lifeguard: boolean;
}

/** Resolved values, with defaults for anything missing (tests pass partial values). */
export function swimConfig(values: ParamValues): SwimConfig {
  const out: Record<string, unknown> = {};
  for (const [k, spec] of Object.entries(SWIM_PARAMS)) out[k] = values[k] ?? spec.default;
  return out as unknown as SwimConfig;
}
