/**
 * A real cluster of black-box agents (adapter.ts; Serf today) on loopback, measured with the
 * harness's own Measures: start N agents, join them, wait until every agent sees all others,
 * then run one fault — crash (SIGKILL of k agents) or join (one more agent) — and feed every
 * belief each surviving agent reports, timestamped on arrival, to Measures. Bounded in time;
 * every agent, socket and temp dir goes at the end, also on failure (and the reaper covers this
 * process dying).
 *
 * Two clocks of belief are kept, because an agent may delay what applications see:
 * - `log` (BeliefSink.decided): the agent's own decision. For Serf, the "EventMemberJoin/Failed"
 *   log line serf writes the moment memberlist changes a member's state, streamed over RPC
 *   `monitor` — the figure to compare a SWIM model with;
 * - `stream` (BeliefSink.delivered): what an application receives. For Serf, member events over
 *   RPC `stream`, which the agent first holds in its coalescer (serf cmd/serf/command/agent/
 *   command.go: CoalescePeriod 3 s, QuiescentPeriod 1 s, not configurable): 1–3 s later.
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Measures } from '../harness/measures.ts';
import { Rng } from '../harness/rng.ts';
import { drawDistinct } from '../harness/verdict.ts';
import type { BlackBoxAdapter, BlackBoxAgent } from './adapter.ts';
import { Reaper } from './reaper.ts';
import { StatsdReceiver, trafficDelta, type MemberlistTraffic } from './statsd.ts';

export type ClusterFault = { kind: 'crash'; count: number } | { kind: 'join' } | { kind: 'none' };

export interface ClusterRunOptions {
  adapter: BlackBoxAdapter;
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
  /**
   * Each agent starts after a seeded uniform delay in [0, this): memberlist's probe ticker runs on
   * a grid from the agent's start (the random stagger only delays its first read), so agents
   * started together probe in lockstep, which no real fleet does and the model does not assume
   * (it draws each node's phase). Default: the LAN probe interval, 1 s; 0 starts them together.
   */
  startSpreadMs?: number;
  reaper?: Reaper;
  onProgress?: (line: string) => void;
}

export interface BeliefFigures {
  detectionFirstMs: number[];
  detectionAllMs: number[];
  joinMs: number[];
  /** live members dropped from a view after the fault (the model's fleet starts converged) */
  falsePositives: number;
  /** the same while the cluster formed, before the fault */
  falsePositivesBeforeFault: number;
  undetectedCrashes: number;
  unconvergedJoins: number;
}

export interface ClusterRunResult {
  nodes: number;
  fault: ClusterFault;
  seed: number;
  crashed: string[];
  /** every agent the run started (all stopped by the time the result is returned) */
  agents: { name: string; pid: number; ports: number[] }[];
  /** from the agents' own decisions */
  log: BeliefFigures;
  /** from what applications receive */
  stream: BeliefFigures;
  /** memberlist's own counters over [settled, end], per live agent per second */
  traffic: { messagesPerNodePerSec: number; bytesPerNodePerSec: number; windowMs: number; nodeSeconds: number; totals: MemberlistTraffic };
  /**
   * Run-relative times; `agentAgeAtFaultMs` is how long the oldest agent had run at the fault (from
   * its RPC answering: memberlist is created just before) —
   * memberlist schedules its first push-pull 30–60 s after start (state.go pushPullTrigger), so a
   * young cluster has had none (validate runs the model at the same age).
   */
  timeline: { convergedAtMs: number; faultAtMs: number; endAtMs: number; agentAgeAtFaultMs: number };
  /** why detection took what it took: the agents' own account (where the adapter gives it) */
  diagnostics: {
    /** per crashed member: ms from the crash to each survivor's first own failed probe of it */
    ownSuspicionMs: Record<string, number[]>;
    /** each survivor's dead declaration: ms after the crash, with its count of independent confirmations */
    declared: { member: string; by: string; atMs: number; confirmations: number }[];
    /** largest memberlist.health.score (Lifeguard awareness) any agent reported */
    maxHealthScore: number;
    /** probes made with the score above 0, summed over agents */
    degradedProbes: number;
  };
  loadavg: { start: number[]; end: number[] };
}

interface Member {
  index: number;
  agent: BlackBoxAgent;
  statsd: StatsdReceiver;
  aliveFromMs: number;
  aliveUntilMs: number | null;
  windowStart: MemberlistTraffic | null;
}

/** serf's member-event coalescer holds events at most 3 s (CoalescePeriod); 2 s of margin */
const STREAM_GRACE_MS = 5000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function figures(m: Measures, falsePositivesBeforeFault: number): BeliefFigures {
  return {
    detectionFirstMs: [...m.detectFirst],
    detectionAllMs: [...m.detectAll],
    joinMs: [...m.joinSamples],
    falsePositives: m.falsePositives - falsePositivesBeforeFault,
    falsePositivesBeforeFault,
    undetectedCrashes: m.pendingDetections,
    unconvergedJoins: m.pendingJoins,
  };
}

export async function runCluster(opts: ClusterRunOptions): Promise<ClusterRunResult> {
  const n = opts.nodes;
  if (!Number.isInteger(n) || n < 2) throw new Error(`cluster: nodes must be an integer ≥ 2, got ${n}`);
  if (opts.fault.kind === 'crash' && !(opts.fault.count >= 1 && opts.fault.count < n)) throw new Error(`cluster: crash count must be 1..${n - 1}`);
  const progress = opts.onProgress ?? (() => {});
  const total = n + (opts.fault.kind === 'join' ? 1 : 0);
  const byLog = new Measures(total);
  const byStream = new Measures(total);
  const members: Member[] = [];
  const nameToIndex = new Map<string, number>();
  const ownReaper = !opts.reaper;
  const reaper = opts.reaper ?? (await Reaper.start());
  const ownSuspicion = new Map<string, number[]>();
  const suspectedBy = new Set<string>();
  const declared: ClusterRunResult['diagnostics']['declared'] = [];
  let crashAt = -1;
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const load0 = loadavg();

  const startRng = new Rng(opts.seed, 1);
  const startMember = async (index: number): Promise<Member> => {
    await sleep(startRng.next() * (opts.startSpreadMs ?? 1000));
    const statsd = await StatsdReceiver.start();
    try {
      const name = `n${index}`;
      nameToIndex.set(name, index);
      const agent = await opts.adapter.start({ name, statsdAddr: statsd.address, tags: { fleetbench: String(index) }, reaper });
      const m: Member = { index, agent, statsd, aliveFromMs: now(), aliveUntilMs: null, windowStart: null };
      members[index] = m;
      return m;
    } catch (e) {
      statsd.close();
      throw e;
    }
  };

  const observe = (m: Member) => {
    const o = m.index;
    const apply = (measures: Measures, kind: 'up' | 'down', name: string) => {
      const who = nameToIndex.get(name);
      if (who === undefined) return;
      if (kind === 'up') measures.memberUp(o, who, now());
      else measures.memberDown(o, who, now());
    };
    return m.agent.observe({
      decided: (kind, name) => apply(byLog, kind, name),
      delivered: (kind, name) => apply(byStream, kind, name),
      suspected: (name) => {
        const key = `${name}\u0000${o}`;
        if (crashAt < 0 || suspectedBy.has(key)) return; // first own failed probe only
        suspectedBy.add(key);
        ownSuspicion.set(name, [...(ownSuspicion.get(name) ?? []), now() - crashAt]);
      },
      declared: (name, confirmations) => {
        if (crashAt >= 0) declared.push({ member: name, by: m.agent.name, atMs: now() - crashAt, confirmations });
      },
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
    // start in small batches: a burst of agent start-ups on a shared 2-core machine slows them all
    for (let i = 0; i < n; i += 8) {
      const batch = [];
      for (let j = i; j < Math.min(n, i + 8); j++) batch.push(startMember(j));
      for (const m of await Promise.all(batch)) {
        byLog.nodeStarted(m.index, now(), false);
        byStream.nodeStarted(m.index, now(), false);
      }
    }
    for (const m of members) await observe(m);
    progress(`cluster: ${n} ${opts.adapter.name} agents up at ${Math.round(now())} ms`);
    const seed = members[0].agent.joinAddr;
    await Promise.all(members.slice(1).map((m) => m.agent.join([seed])));
    // converged when every agent, asked directly, holds all n alive; then any event a stream
    // missed or coalesced away while the cluster formed is caught up from that answer
    const convergeTimeoutMs = opts.convergeTimeoutMs ?? 60_000;
    const deadline = now() + convergeTimeoutMs;
    let views: string[][] = [];
    for (;;) {
      views = await Promise.all(members.map((m) => m.agent.aliveMembers()));
      if (views.every((v) => v.length === n)) break;
      if (now() > deadline) {
        throw new Error(`cluster: ${n} ${opts.adapter.name} agents did not converge within ${convergeTimeoutMs} ms (alive counts ${views.map((v) => v.length).join(',')})`);
      }
      await sleep(250);
    }
    const caughtUp = { log: 0, stream: 0 };
    members.forEach((m, o) => {
      for (const name of views[o]) {
        const who = nameToIndex.get(name)!;
        if (o === who) continue;
        if (!byLog.inView(o, who)) caughtUp.log++;
        if (!byStream.inView(o, who)) caughtUp.stream++;
        byLog.memberUp(o, who, now());
        byStream.memberUp(o, who, now());
      }
    });
    if (caughtUp.log + caughtUp.stream > 0) progress(`cluster: caught up ${caughtUp.log} log / ${caughtUp.stream} stream beliefs from the members lists`);
    const convergedAtMs = now();
    progress(`cluster: converged at ${Math.round(convergedAtMs)} ms`);
    await sleep(opts.settleMs ?? 5000);

    const windowStartMs = now();
    for (const m of members) m.windowStart = m.statsd.traffic();

    const faultAtMs = now();
    const fpBefore = { log: byLog.falsePositives, stream: byStream.falsePositives };
    const crashed: string[] = [];
    if (opts.fault.kind === 'crash') {
      crashAt = faultAtMs;
      const victims = drawDistinct(members.map((m) => m.index), opts.fault.count, new Rng(opts.seed));
      const kills: Promise<void>[] = [];
      for (const v of victims) {
        const m = members[v];
        const t = now();
        kills.push(m.agent.kill()); // sends SIGKILL synchronously
        m.aliveUntilMs = t;
        byLog.nodeStopped(v, t, true);
        byStream.nodeStopped(v, t, true);
        crashed.push(m.agent.name);
      }
      await Promise.all(kills);
      // the agents' decisions bound the wait; delivery then gets the coalescer's 3 s and a margin
      if (await waitFor(() => byLog.pendingDetections === 0, opts.faultTimeoutMs ?? 90_000)) await waitFor(() => byStream.pendingDetections === 0, STREAM_GRACE_MS);
    } else if (opts.fault.kind === 'join') {
      const m = await startMember(n);
      m.windowStart = m.statsd.traffic();
      await observe(m);
      // the join starts when the running agent is asked to join: process start-up is not SWIM's
      const t = now();
      m.aliveFromMs = t;
      byLog.nodeStarted(n, t, true);
      byStream.nodeStarted(n, t, true);
      await m.agent.join([seed]);
      if (await waitFor(() => byLog.pendingJoins === 0, opts.faultTimeoutMs ?? 90_000)) await waitFor(() => byStream.pendingJoins === 0, STREAM_GRACE_MS);
    }
    await sleep(opts.tailMs ?? 2000);
    const endAtMs = now();

    let nodeMs = 0;
    let totals: MemberlistTraffic | null = null;
    for (const m of members) {
      nodeMs += (m.aliveUntilMs ?? endAtMs) - Math.max(m.aliveFromMs, windowStartMs);
      const d = trafficDelta(m.windowStart!, m.statsd.traffic());
      if (!totals) totals = d;
      else for (const k of Object.keys(d) as (keyof MemberlistTraffic)[]) totals[k] += d[k];
    }
    const nodeSeconds = nodeMs / 1000;
    return {
      nodes: n,
      fault: opts.fault,
      seed: opts.seed,
      crashed,
      agents: members.map((m) => ({ name: m.agent.name, pid: m.agent.pid, ports: [...m.agent.ports] })),
      log: figures(byLog, fpBefore.log),
      stream: figures(byStream, fpBefore.stream),
      traffic: {
        messagesPerNodePerSec: totals!.messagesSent / nodeSeconds,
        bytesPerNodePerSec: totals!.bytesSent / nodeSeconds,
        windowMs: endAtMs - windowStartMs,
        nodeSeconds,
        totals: totals!,
      },
      timeline: { convergedAtMs, faultAtMs, endAtMs, agentAgeAtFaultMs: faultAtMs - Math.min(...members.slice(0, n).map((m) => m.aliveFromMs)) },
      diagnostics: {
        ownSuspicionMs: Object.fromEntries(ownSuspicion),
        declared,
        maxHealthScore: Math.max(0, ...members.map((m) => m.statsd.gaugeMax.get('memberlist.health.score') ?? 0)),
        degradedProbes: members.reduce((a, m) => a + m.statsd.total('memberlist.degraded.probe').count, 0),
      },
      loadavg: { start: load0, end: loadavg() },
    };
  } finally {
    await Promise.all(members.map((m) => m?.agent.stop()));
    for (const m of members) m?.statsd.close();
    if (ownReaper) reaper.close();
  }
}
