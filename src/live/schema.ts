/**
 * The `live` section of a result (present only when `run.runtime` is "live"): how the run was
 * enforced and wired, and the operating-system figures that have no simulator counterpart.
 * src/results/schema.ts includes it as an optional field.
 */
import { z } from 'zod';

const Num = z.number();
const Pct = z.object({ p50: Num, p99: Num, max: Num }).nullable();

export const LiveSampleSchema = z.object({
  tMs: Num,
  /** worst node's main-loop event-loop delay p99 over the window, ms */
  eventLoopDelayP99MaxMs: Num,
  rssMaxBytes: Num,
  threadsMax: Num,
  fdsMax: Num,
  cpuUsPerNodePerSec: Num,
});

export const LiveNodeSchema = z.object({
  id: Num,
  pid: Num,
  startedAtMs: Num.nullable(),
  stoppedAtMs: Num.nullable(),
  end: z.enum(['running', 'crashed', 'left', 'exited', 'spare']),
  exit: z.string().nullable(),
  baseThreads: Num,
  rssPeakBytes: Num,
  threadsPeak: Num,
  fdsPeak: Num,
  socketsPeak: Num,
  workersPeak: Num,
  spawnRefused: Num,
  eventLoopDelayP99Ms: Num,
  /** frames the node dropped: hellos without the run's token, undecodable or misshapen frames
   *  (NodeStats.badFrames); absent in results from before it was counted */
  badFrames: Num.optional(),
  /** what the kernel counted in the node's cpu and memory cgroups over its life (null: that
   *  limit was not enforced); absent in results from before they were enforced. memory.limitHits
   *  is the kernel's failcnt, which some kernels leave at 0: oomKills and peakBytes are reliable */
  cgroup: z
    .object({
      cpu: z.object({ periods: Num, throttledPeriods: Num, throttledMs: Num }).nullable(),
      memory: z.object({ limitBytes: Num.nullable(), peakBytes: Num.nullable(), limitHits: Num, oomKills: Num }).nullable(),
    })
    .optional(),
});

/** How one limit was applied: by the kernel (a cgroup) or not at all, and why not. */
const Enforced = z.enum(['cgroup', 'none']);

export const LiveSectionSchema = z.object({
  transport: z.enum(['ws', 'uws']),
  /**
   * How each limit was applied. Results from before CPU and memory were enforced have memory
   * 'none' and no cpu, cpuReason, memoryReason or cpuQuota: those stay valid (all optional).
   */
  enforcement: z.object({
    threads: z.enum(['cgroup', 'emulated']),
    /** why the thread limit is emulated, when it is */
    reason: z.string().nullable(),
    fds: z.literal('emulated'),
    /** 'cgroup': memory.limit_in_bytes (v1) / memory.max (v2) = limits.memoryBytesPerNode */
    memory: Enforced,
    /** why memory is not enforced, when it is not */
    memoryReason: z.string().nullable().optional(),
    /** 'cgroup': a CFS quota of limits.coresPerNode cores, from when the node listens */
    cpu: Enforced.optional(),
    /** why CPU is not enforced, when it is not */
    cpuReason: z.string().nullable().optional(),
    /** the quota as written; `binds` false when it is at least this machine's CPUs, with why in `note` */
    cpuQuota: z.object({ quotaUs: Num, periodUs: Num, cores: Num, binds: z.boolean(), note: z.string().nullable() }).nullable().optional(),
  }),
  /** how scenario faults were applied */
  faults: z.string(),
  /** nodes placed on other hosts (--hosts netns:K | agents:FILE); absent for one machine */
  hosts: z
    .object({
      kind: z.enum(['netns', 'agents']),
      perHost: z.array(z.object({ host: Num, address: z.string(), nodes: Num, estimatedBytes: Num, availableBytes: Num, cpus: Num })),
    })
    .optional(),
  /** each network fault as applied on the hosts (kernel: tc netem / nftables), when hosts carry them */
  faultLog: z.array(z.object({ atMs: Num, line: z.string() })).optional(),
  /** what travels in a frame, and what is counted */
  framing: z.string(),
  /** how a cold start's shard-map construction was run (absent in files from before it was CPU work) */
  construction: z.string().optional(),
  wallMs: Num,
  startupMs: Num,
  /** before t0 the initial fleet boots until every node has every other in view (or a bound) */
  warmup: z.object({ ms: Num, converged: z.boolean(), viewAccuracy: Num }),
  load: z.object({
    mode: z.enum(['paced', 'max']),
    ratePerSec: Num,
    maxInFlight: Num,
    answered: Num,
    failed: Num,
    throughputPerSec: Num,
    latencyUs: Pct,
  }),
  perNode: z.object({
    rssPeakBytes: Num,
    rssMeanBytes: Num,
    threadsPeak: Num,
    fdsPeak: Num,
    socketsPeak: Num,
    cpuUsPerSec: Num,
    baseThreads: Num,
    /** each node's main-loop event-loop delay p99 over its run, summarized across nodes (ms) */
    eventLoopDelayP99Ms: Pct,
  }),
  messagesPerSec: Num,
  coordinatorPeakRssBytes: Num,
  plan: z.record(z.string(), Num),
  nodes: z.array(LiveNodeSchema),
  timeseries: z.array(LiveSampleSchema),
});

export type LiveSection = z.infer<typeof LiveSectionSchema>;
