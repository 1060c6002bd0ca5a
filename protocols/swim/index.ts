/**
 * swim: SWIM (Das, Gupta, Motivala, DSN 2002) with Lifeguard as an option, after
 * hashicorp/memberlist. See README.md for the design, costs, failure mode and parameters.
 *
 * Files, one concern each: node.ts (probe loop and state handlers), members.ts (member table,
 * probe order), broadcast-queue.ts (transmit-limited piggyback queue), suspicion.ts,
 * awareness.ts, timing.ts (pure formulas), messages.ts (messages and codec), params.ts.
 */
import type { ParamValues, ProtocolDefinition, ProtocolPromises } from '../../src/contract/protocol.ts';
import { swimCodec, type SwimMsg } from './messages.ts';
import { SwimNode } from './node.ts';
import { SWIM_PARAMS, swimConfig } from './params.ts';
import { pushPullScaleMs, suspicionTimeoutMs } from './timing.ts';

export type { SwimMsg } from './messages.ts';

export const swim: ProtocolDefinition<SwimMsg> = {
  name: 'swim',
  summary: 'SWIM gossip membership: probe + k indirect probes, suspicion with incarnations, piggybacked dissemination; lifeguard=true adds Lifeguard',
  params: SWIM_PARAMS,
  codec: swimCodec,
  create: (ctx, params) => new SwimNode(ctx, swimConfig(params)),
  conformance: { promises: swimPromises },
};

/**
 * SWIM's guarantees are probabilistic; what bounds them is its anti-entropy. Detection: within one
 * probe round every member probes the dead one ((N−1) intervals, round-robin), a failed probe and
 * its indirect probes take a timeout and an interval, suspicion then runs its (Lifeguard: longest)
 * timeout; the `dead` then spreads by gossip, and at worst by the next push-pull with a member that
 * has it. Joins and reshards spread by gossip, guaranteed by push-pull. After a heal, serf-style
 * reconnects contact the dead every reconnect interval, then push-pull spreads them alive.
 */
function swimPromises(params: ParamValues, n: number): ProtocolPromises {
  const probe = params.probeIntervalMs as number;
  const min = suspicionTimeoutMs(params.suspicionMult as number, n, probe);
  const suspicion = params.lifeguard ? min * (params.suspicionMaxTimeoutMult as number) : min;
  const pushPull = pushPullScaleMs(params.pushPullIntervalMs as number, n);
  return {
    detectAllMs: (n - 1) * probe + (params.probeTimeoutMs as number) + probe + suspicion + pushPull,
    joinAfterListedMs: (params.joinRetryMs as number) + pushPull,
    disseminateMs: pushPull,
    recoverMs: (params.reconnectIntervalMs as number) + pushPull,
  };
}
