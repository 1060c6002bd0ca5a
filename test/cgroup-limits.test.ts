// The pure parts of the live runtime's CPU and memory limits (src/live/cgroup.ts): the CFS quota
// maths, the kernel counter parsers, where a run's cgroups go, the leftover sweep's search, and
// that result files from before per-limit enforcement still validate and read alike. No cgroup is
// touched here; test/live-limits.test.ts runs the real ones.
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { CFS_PERIOD_MAX_US, CFS_PERIOD_US, CFS_QUOTA_MIN_US, cpuQuota, ownV1Path, parseCpuStat, parseFlatKeyed } from '../src/live/cgroup.ts';
import { sweepLiveLeftovers } from '../src/live/leftovers.ts';
import { LiveSectionSchema } from '../src/live/schema.ts';
import { limitsEnforcementOf, ResultSchema, type Result } from '../src/results/schema.ts';
import { resolveRun } from '../src/harness/run-config.ts';
import { parseScenario } from '../src/harness/scenario.ts';
import { runSim } from '../src/sim/run.ts';

describe('cpuQuota: limits.coresPerNode as a CFS quota', () => {
  // [cores, machine CPUs, quota µs, period µs, binds, note matches]
  const table: Array<[number, number, number, number, boolean, RegExp | null]> = [
    [0.1, 2, 10_000, CFS_PERIOD_US, true, null],
    [1.5, 2, 150_000, CFS_PERIOD_US, true, null],
    [0.01, 2, CFS_QUOTA_MIN_US, CFS_PERIOD_US, true, null], // exactly the kernel's minimum quota
    // under the minimum quota at the default period: the period grows to keep the ratio
    [0.005, 2, CFS_QUOTA_MIN_US, 200_000, true, /period 200000 µs/],
    [0.001, 2, CFS_QUOTA_MIN_US, CFS_PERIOD_MAX_US, true, /period 1000000 µs/],
    // under what the kernel can express at all: clamped, and said
    [0.0005, 2, CFS_QUOTA_MIN_US, CFS_PERIOD_MAX_US, true, /clamped to 0\.001 cores/],
    // the default 4 cores on this 2-CPU machine: written, but it cannot bind
    [4, 2, 400_000, CFS_PERIOD_US, false, /4 cores per node ≥ this machine's 2 CPUs: the quota is written but cannot bind/],
    [2, 2, 200_000, CFS_PERIOD_US, false, /cannot bind/],
  ];
  it.each(table)('%s cores on %s CPUs: quota %s µs per %s µs, binds %s', (cores, cpus, quotaUs, periodUs, binds, note) => {
    const q = cpuQuota(cores, cpus);
    expect(q).toMatchObject({ quotaUs, periodUs, binds });
    expect(q.quotaUs).toBeGreaterThanOrEqual(CFS_QUOTA_MIN_US);
    expect(q.periodUs).toBeLessThanOrEqual(CFS_PERIOD_MAX_US);
    // the share is kept unless clamped
    if (!note || !/clamped/.test(note.source)) expect(q.cores).toBeCloseTo(cores, 9);
    if (note) expect(q.note).toMatch(note);
    else expect(q.note).toBeNull();
  });

  it('refuses a core count that is not a positive number', () => {
    for (const bad of [0, -1, Number.NaN, Infinity]) expect(() => cpuQuota(bad, 2)).toThrow(/positive number/);
  });
});

describe('kernel counters', () => {
  it('cpu.stat: v1 counts throttled time in ns, v2 in µs; both read as ms', () => {
    const v1 = 'nr_periods 40\nnr_throttled 36\nthrottled_time 2850000000\nnr_bursts 0\nburst_time 0\n';
    expect(parseCpuStat(v1, 1)).toEqual({ periods: 40, throttledPeriods: 36, throttledMs: 2850 });
    const v2 = 'usage_usec 1000\nuser_usec 800\nsystem_usec 200\nnr_periods 40\nnr_throttled 36\nthrottled_usec 2850000\n';
    expect(parseCpuStat(v2, 2)).toEqual({ periods: 40, throttledPeriods: 36, throttledMs: 2850 });
    expect(parseCpuStat('', 1)).toEqual({ periods: 0, throttledPeriods: 0, throttledMs: 0 });
  });

  it('memory.oom_control (v1) and memory.events (v2) give the OOM kills', () => {
    expect(parseFlatKeyed('oom_kill_disable 0\nunder_oom 0\noom_kill 1\n').oom_kill).toBe(1);
    expect(parseFlatKeyed('low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n')).toMatchObject({ max: 12, oom_kill: 1 });
  });

  it("a run's v1 cgroups nest under this process's own cgroup in each hierarchy", () => {
    const self = '9:name=systemd:/\n8:pids:/\n4:memory:/process_api/5b7e\n2:cpu,cpuacct:/user.slice\n0::/\n';
    expect(ownV1Path('memory', self)).toBe('/process_api/5b7e');
    expect(ownV1Path('cpu', self)).toBe('/user.slice'); // a co-mounted hierarchy
    expect(ownV1Path('pids', self)).toBe('/');
    expect(ownV1Path('pids', '0::/\n')).toBe('/'); // not in a v1 hierarchy: its root
  });
});

describe('sweepLiveLeftovers finds a dead run in every hierarchy, nested under a session', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cgroup-limits-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('removes a dead run nested under a session cgroup, and leaves a live one and unrelated ones', () => {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const roots = ['pids', 'cpu', 'memory'].map((c) => join(dir, c));
    const deadRun = `fleetbench-${dead}-abc`;
    const liveRun = `fleetbench-${process.ppid}-abc`;
    mkdirSync(join(roots[0], deadRun, 'node-0'), { recursive: true });
    mkdirSync(join(roots[1], deadRun, 'node-0'), { recursive: true });
    mkdirSync(join(roots[2], 'process_api', 'abcd', deadRun, 'node-0'), { recursive: true });
    mkdirSync(join(roots[2], 'process_api', 'abcd', liveRun, 'node-0'), { recursive: true });
    mkdirSync(join(roots[2], 'process_api', 'efgh'), { recursive: true });
    // deeper than the search goes: not ours to guess at
    mkdirSync(join(roots[2], 'a', 'b', 'c', 'd', deadRun), { recursive: true });
    const s = sweepLiveLeftovers({ cgroupRoots: [...roots, dir], tmp: join(dir, 'no-tmp') });
    expect(s.cgroups.sort()).toEqual([join(roots[0], deadRun), join(roots[1], deadRun), join(roots[2], 'process_api', 'abcd', deadRun)].sort());
    expect(readdirSync(join(roots[2], 'process_api', 'abcd'))).toEqual([liveRun]);
    expect(readdirSync(join(roots[2], 'process_api')).sort()).toEqual(['abcd', 'efgh']);
    expect(readdirSync(join(roots[2], 'a', 'b', 'c', 'd'))).toEqual([deadRun]);
  });
});

describe('result files: per-limit enforcement, and files from before it', () => {
  const scenario = parseScenario({ name: 'limits-schema', description: 'a tiny run to shape results from', nodes: 3, durationMs: 2000 }, 'limits-schema');
  const simResult = () => runSim(resolveRun({ protocol: 'swim', scenario }));

  /** A live section as the live runtime wrote it before CPU and memory were enforced. */
  const oldLiveSection = {
    transport: 'ws',
    enforcement: { threads: 'cgroup', reason: null, fds: 'emulated', memory: 'none' },
    faults: 'crash = SIGKILL of the node process',
    framing: 'one WebSocket binary frame per message',
    wallMs: 6000,
    startupMs: 900,
    warmup: { ms: 300, converged: true, viewAccuracy: 1 },
    load: { mode: 'paced', ratePerSec: 100, maxInFlight: 64, answered: 200, failed: 0, throughputPerSec: 100, latencyUs: { p50: 300, p99: 900, max: 1500 } },
    perNode: { rssPeakBytes: 6e7, rssMeanBytes: 5e7, threadsPeak: 11, fdsPeak: 30, socketsPeak: 4, cpuUsPerSec: 20000, baseThreads: 11, eventLoopDelayP99Ms: null },
    messagesPerSec: 30,
    coordinatorPeakRssBytes: 1e8,
    plan: { processes: 3 },
    nodes: [{ id: 0, pid: 100, startedAtMs: 0, stoppedAtMs: null, end: 'running', exit: null, baseThreads: 11, rssPeakBytes: 6e7, threadsPeak: 11, fdsPeak: 30, socketsPeak: 4, workersPeak: 0, spawnRefused: 0, eventLoopDelayP99Ms: 2 }],
    timeseries: [],
  };

  const asLive = (r: Result, limitsExtra: Record<string, unknown>, live: unknown): unknown => ({
    ...r,
    run: { ...r.run, runtime: 'live', limits: { ...r.run.limits, ...limitsExtra } },
    sim: null,
    live,
  });

  it('a live file from before per-limit enforcement validates and reads as threads only', async () => {
    const r = await simResult();
    for (const threads of ['cgroup', 'emulated'] as const) {
      const old = asLive(r, { enforcement: threads, fdsEnforcement: 'emulated' }, { ...oldLiveSection, enforcement: { ...oldLiveSection.enforcement, threads } });
      const parsed = ResultSchema.parse(old);
      expect(limitsEnforcementOf(parsed.run.limits)).toEqual({ threads, cpu: 'none', memory: 'none', fds: 'emulated' });
    }
  });

  it('a live file with per-limit enforcement validates, with the cgroup counters per node', async () => {
    const r = await simResult();
    const enforcement = { threads: 'cgroup', cpu: 'cgroup', memory: 'cgroup', fds: 'emulated' } as const;
    const live = {
      ...oldLiveSection,
      enforcement: {
        threads: 'cgroup',
        reason: null,
        fds: 'emulated',
        memory: 'cgroup',
        memoryReason: null,
        cpu: 'cgroup',
        cpuReason: null,
        cpuQuota: { ...cpuQuota(4, 2) },
      },
      nodes: oldLiveSection.nodes.map((n) => ({
        ...n,
        cgroup: { cpu: { periods: 40, throttledPeriods: 0, throttledMs: 0 }, memory: { limitBytes: 2 ** 30, peakBytes: 6e7, limitHits: 0, oomKills: 0 } },
      })),
    };
    const parsed = ResultSchema.parse(asLive(r, { enforcement }, live));
    expect(limitsEnforcementOf(parsed.run.limits)).toEqual(enforcement);
    expect(parsed.live!.enforcement.cpuQuota!.binds).toBe(false);
    expect(LiveSectionSchema.parse(live).nodes[0].cgroup!.memory!.limitBytes).toBe(2 ** 30);
  });

  it('refuses an object under any limit but enforcement, and an unknown enforcement value', async () => {
    const r = await simResult();
    const bad = ResultSchema.safeParse(asLive(r, { threadsPerNode: { threads: 'cgroup', cpu: 'none', memory: 'none', fds: 'emulated' } }, oldLiveSection));
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error!.issues)).toMatch(/only limits\.enforcement may be an object/);
    expect(ResultSchema.safeParse(asLive(r, { enforcement: { threads: 'cgroup', cpu: 'quota', memory: 'none', fds: 'emulated' } }, oldLiveSection)).success).toBe(false);
  });

  it('a simulator result has no enforcement', async () => {
    const r = await simResult();
    expect(limitsEnforcementOf(ResultSchema.parse(r).run.limits)).toBeNull();
  });
});
