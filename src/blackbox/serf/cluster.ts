/**
 * A real Serf cluster on loopback, measured with the harness's own Measures: start N agents,
 * join them, wait until every agent sees all others, then run one fault — crash (SIGKILL of k
 * agents) or join (one more agent) — and feed every member event each surviving agent reports,
 * timestamped on arrival, to Measures. Bounded in time; every agent, socket and temp dir goes at
 * the end, also on failure (and the reaper covers this process dying).
 *
 * Two clocks of belief are recorded, because the agent delays what applications see:
 * - `log`: serf's "EventMemberJoin/Failed/Leave" log line, streamed over the RPC `monitor`
 *   command, written the moment memberlist changes its member state — memberlist's decision,
 *   the figure to compare a SWIM model with;
 * - `stream`: the member events an application receives over RPC `stream`, which the agent
 *   first holds in its coalescer (serf agent command.go: CoalescePeriod 3 s, QuiescentPeriod
 *   1 s, not configurable), so they arrive 1–3 s after the decision.
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Measures } from '../../harness/measures.ts';
import { Rng } from '../../harness/rng.ts';
import { drawDistinct } from '../../harness/verdict.ts';
import { freeLoopbackPort } from '../ports.ts';
import { Reaper } from '../reaper.ts';
import { StatsdReceiver, trafficDelta, type MemberlistTraffic } from '../statsd.ts';
import { SerfAgent } from './agent.ts';
import type { SerfRpcClient, StreamEvent } from './rpc.ts';

export type ClusterFault = { kind: 'crash'; count: number } | { kind: 'join' } | { kind: 'none' };

export interface ClusterRunOptions {
  nodes: number;
  fault: ClusterFault;
  /** picks the crashed agents */
  seed: number;
  /** quiet time between convergence and the fault (gossip and push-pull of the joins drain) */
  settleMs?: number;
  /** at most this long after the fault for every detection / the join to complete */
  faultTimeoutMs?: number;
  /** observation after completion, for late false positives */
  tailMs?: number;
  /** at most this long for the initial cluster to converge */
  convergeTimeoutMs?: number;
  reaper?: Reaper;
  binary?: string;
  onProgress?: (line: string) => void;
}

export interface BeliefFigures {
  detectionFirstMs: number[];
  detectionAllMs: number[];
  joinMs: number[];
  falsePositives: number;
  undetectedCrashes: number;
  unconvergedJoins: number;
}

export interface ClusterRunResult {
  nodes: number;
  fault: ClusterFault;
  seed: number;
  crashed: string[];
  /** every agent the run started (all stopped by the time the result is returned) */
  agents: { name: string; pid: number; bindAddr: string; rpcPort: number }[];
  /** from memberlist's decisions (agent log lines) */
  log: BeliefFigures;
  /** from the member events applications receive (coalesced by the agent) */
  stream: BeliefFigures;
  /** memberlist's own counters over [settled, end], per live agent per second */
  traffic: { messagesPerNodePerSec: number; bytesPerNodePerSec: number; windowMs: number; nodeSeconds: number; totals: MemberlistTraffic };
  timeline: { convergedAtMs: number; faultAtMs: number; endAtMs: number };
  loadavg: { start: number[]; end: number[] };
}

interface Member {
  index: number;
  agent: SerfAgent;
  statsd: StatsdReceiver;
  rpc: SerfRpcClient | null;
  aliveFromMs: number;
  aliveUntilMs: number | null;
  windowStart: MemberlistTraffic | null;
}

const LOG_EVENT = /serf: EventMember(Join|Leave|Failed|Reap)(?: \(forced\))?: (\S+)/;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function figures(m: Measures): BeliefFigures {
  return {
    detectionFirstMs: [...m.detectFirst],
    detectionAllMs: [...m.detectAll],
    joinMs: [...m.joinSamples],
    falsePositives: m.falsePositives,
    undetectedCrashes: m.pendingDetections,
    unconvergedJoins: m.pendingJoins,
  };
}

export async function runSerfCluster(opts: ClusterRunOptions): Promise<ClusterRunResult> {
  const n = opts.nodes;
  if (!Number.isInteger(n) || n < 2) throw new Error(`serf cluster: nodes must be an integer ≥ 2, got ${n}`);
  if (opts.fault.kind === 'crash' && !(opts.fault.count >= 1 && opts.fault.count < n)) throw new Error(`serf cluster: crash count must be 1..${n - 1}`);
  const progress = opts.onProgress ?? (() => {});
  const total = n + (opts.fault.kind === 'join' ? 1 : 0);
  const byLog = new Measures(total);
  const byStream = new Measures(total);
  const members: Member[] = [];
  const nameToIndex = new Map<string, number>();
  const ownReaper = !opts.reaper;
  const reaper = opts.reaper ?? (await Reaper.start());
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const load0 = loadavg();

  const startMember = async (index: number): Promise<Member> => {
    const statsd = await StatsdReceiver.start();
    try {
      const agent = await SerfAgent.start({
        name: `n${index}`,
        bindPort: await freeLoopbackPort(),
        rpcPort: await freeLoopbackPort(),
        statsdAddr: statsd.address,
        tags: { fleetbench: String(index) },
        reaper,
        binary: opts.binary,
      });
      const m: Member = { index, agent, statsd, rpc: null, aliveFromMs: now(), aliveUntilMs: null, windowStart: null };
      members[index] = m;
      nameToIndex.set(agent.name, index);
      return m;
    } catch (e) {
      statsd.close();
      throw e;
    }
  };

  /** Subscribes to the agent's log and member events; call before the agent joins anyone. */
  const observe = async (m: Member) => {
    const rpc = await m.agent.rpc();
    m.rpc = rpc;
    const o = m.index;
    await rpc.monitor('INFO', (line) => {
      const e = LOG_EVENT.exec(line);
      if (!e) return;
      const who = nameToIndex.get(e[2]);
      if (who === undefined) return;
      if (e[1] === 'Join') byLog.memberUp(o, who, now());
      else if (e[1] === 'Failed' || e[1] === 'Leave') byLog.memberDown(o, who, now());
    });
    await rpc.stream('member-join,member-leave,member-failed', (ev: StreamEvent) => {
      if (ev.Event === 'user') return;
      const t = now();
      for (const mm of ev.Members) {
        const who = nameToIndex.get(mm.Name);
        if (who === undefined) continue;
        if (ev.Event === 'member-join') byStream.memberUp(o, who, t);
        else byStream.memberDown(o, who, t);
      }
    });
  };

  const waitFor = async (cond: () => boolean, timeoutMs: number): Promise<boolean> => {
    const deadline = now() + timeoutMs;
    while (!cond()) {
      if (now() > deadline) return false;
      await sleep(50);
    }
    return true;
  };

  try {
    // start in small batches: a burst of Go runtimes on a shared 2-core machine slows every start
    for (let i = 0; i < n; i += 8) {
      const batch = [];
      for (let j = i; j < Math.min(n, i + 8); j++) batch.push(startMember(j));
      const started = await Promise.all(batch);
      // names are known before any observer could report them
      for (const m of started) {
        byLog.nodeStarted(m.index, now(), false);
        byStream.nodeStarted(m.index, now(), false);
      }
    }
    for (const m of members) await observe(m);
    progress(`serf cluster: ${n} agents up at ${Math.round(now())} ms`);
    const seed = members[0].agent.bindAddr;
    await Promise.all(members.slice(1).map((m) => m.rpc!.join([seed])));
    const converged = () => members.every((m) => byLog.viewSize(m.index) === n - 1 && byStream.viewSize(m.index) === n - 1);
    if (!(await waitFor(converged, opts.convergeTimeoutMs ?? 60_000))) {
      const sizes = members.map((m) => byStream.viewSize(m.index));
      throw new Error(`serf cluster: ${n} agents did not converge within ${opts.convergeTimeoutMs ?? 60_000} ms (view sizes ${sizes.join(',')})`);
    }
    const convergedAtMs = now();
    progress(`serf cluster: converged at ${Math.round(convergedAtMs)} ms`);
    await sleep(opts.settleMs ?? 5000);

    const windowStartMs = now();
    for (const m of members) m.windowStart = m.statsd.traffic();

    const faultAtMs = now();
    const crashed: string[] = [];
    if (opts.fault.kind === 'crash') {
      const victims = drawDistinct(members.map((m) => m.index), opts.fault.count, new Rng(opts.seed));
      for (const v of victims) {
        const m = members[v];
        const t = now();
        process.kill(m.agent.pid, 'SIGKILL');
        m.aliveUntilMs = t;
        byLog.nodeStopped(v, t, true);
        byStream.nodeStopped(v, t, true);
        crashed.push(m.agent.name);
      }
      await Promise.all(victims.map((v) => members[v].agent.kill()));
      const done = () => byLog.pendingDetections === 0 && byStream.pendingDetections === 0;
      await waitFor(done, opts.faultTimeoutMs ?? 90_000);
    } else if (opts.fault.kind === 'join') {
      const m = await startMember(n);
      m.windowStart = { ...m.statsd.traffic() };
      await observe(m);
      // the join starts when the running agent is asked to join: process start-up is not SWIM's
      const t = now();
      m.aliveFromMs = t;
      byLog.nodeStarted(n, t, true);
      byStream.nodeStarted(n, t, true);
      await m.rpc!.join([seed]);
      const done = () => byLog.pendingJoins === 0 && byStream.pendingJoins === 0;
      await waitFor(done, opts.faultTimeoutMs ?? 90_000);
    }
    await sleep(opts.tailMs ?? 2000);
    const endAtMs = now();

    let nodeMs = 0;
    const totals = members.reduce<MemberlistTraffic | null>((acc, m) => {
      nodeMs += (m.aliveUntilMs ?? endAtMs) - Math.max(m.aliveFromMs, windowStartMs);
      const d = trafficDelta(m.windowStart!, m.statsd.traffic());
      if (!acc) return d;
      for (const k of Object.keys(d) as (keyof MemberlistTraffic)[]) acc[k] += d[k];
      return acc;
    }, null)!;
    const nodeSeconds = nodeMs / 1000;
    return {
      nodes: n,
      fault: opts.fault,
      seed: opts.seed,
      crashed,
      agents: members.map((m) => ({ name: m.agent.name, pid: m.agent.pid, bindAddr: m.agent.bindAddr, rpcPort: m.agent.rpcPort })),
      log: figures(byLog),
      stream: figures(byStream),
      traffic: {
        messagesPerNodePerSec: totals.messagesSent / nodeSeconds,
        bytesPerNodePerSec: totals.bytesSent / nodeSeconds,
        windowMs: endAtMs - windowStartMs,
        nodeSeconds,
        totals,
      },
      timeline: { convergedAtMs, faultAtMs, endAtMs },
      loadavg: { start: load0, end: loadavg() },
    };
  } finally {
    for (const m of members) m?.rpc?.close();
    await Promise.all(members.map((m) => m?.agent.stop()));
    for (const m of members) m?.statsd.close();
    if (ownReaper) reaper.close();
  }
}
