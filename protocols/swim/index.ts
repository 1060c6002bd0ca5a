/**
 * swim: SWIM (Das, Gupta, Motivala, DSN 2002) with Lifeguard as an option, after
 * hashicorp/memberlist. See README.md for the design, costs, failure mode and parameters.
 *
 * Files, one concern each: node.ts (probe loop and state handlers), members.ts (member table,
 * probe order), broadcast-queue.ts (transmit-limited piggyback queue), suspicion.ts,
 * awareness.ts, timing.ts (pure formulas), messages.ts (messages and codec), params.ts.
 */
import type { ProtocolDefinition } from '../../src/contract/protocol.ts';
import { swimCodec, type SwimMsg } from './messages.ts';
import { SwimNode } from './node.ts';
import { SWIM_PARAMS, swimConfig } from './params.ts';

export type { SwimMsg } from './messages.ts';

export const swim: ProtocolDefinition<SwimMsg> = {
  name: 'swim',
  summary: 'SWIM gossip membership: probe + k indirect probes, suspicion with incarnations, piggybacked dissemination; lifeguard=true adds Lifeguard',
  params: SWIM_PARAMS,
  codec: swimCodec,
  create: (ctx, params) => new SwimNode(ctx, swimConfig(params)),
};
