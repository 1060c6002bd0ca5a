/**
 * HashiCorp Serf as a black-box protocol: each FE node process runs a real `serf agent` as its
 * membership layer (src/blackbox/host.ts), so there is no protocol code here — only the
 * definition the harness dispatches on and the parameters the host reads. See README.md.
 */
import type { Codec, ProtocolDefinition } from '../../src/contract/protocol.ts';

const LIVE_ONLY = 'serf is a black-box protocol: live runtime only';

/** Never used: the agent encodes its own messages; counted from its statsd metrics instead. */
const noCodec: Codec<never> = {
  byteLength: () => {
    throw new Error(LIVE_ONLY);
  },
  encode: () => {
    throw new Error(LIVE_ONLY);
  },
  decode: () => {
    throw new Error(LIVE_ONLY);
  },
};

export const serf: ProtocolDefinition<never> = {
  name: 'serf',
  summary: 'HashiCorp Serf agents (memberlist + Lifeguard, LAN profile) as the membership layer; shard updates as user events (live runtime only)',
  kind: 'black-box',
  params: {
    view: {
      default: 'events',
      choices: ['events', 'decisions'],
      description:
        "what the FE believes: 'events' = the member events an application receives over RPC stream (after the agent's 1–3 s coalescing); " +
        "'decisions' = memberlist's decisions as the agent logs them (RPC monitor), before coalescing",
      source: 'serf cmd/serf/command/agent/command.go: member events coalesced (CoalescePeriod 3 s, QuiescentPeriod 1 s); an application reads events',
    },
    joinFanout: {
      default: 3,
      min: 1,
      max: 64,
      integer: true,
      description: 'how many listed members a booting node asks its agent to join (the lowest-id listed member always, the rest at random); push-pull spreads the rest',
      source: 'assumption: serf join takes any live member; 3 makes the initial mesh connected at test sizes',
    },
  },
  codec: noCodec,
  create() {
    throw new Error(LIVE_ONLY);
  },
};
