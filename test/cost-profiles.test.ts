// Shipped thread cost profiles: each loads by name with a source per figure, bad profiles are refused
// with one exit-2 line, and the profile decides which host limit binds thread-per-peer first.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.ts';
import { UsageError } from '../src/errors.ts';
import { COST_PROFILE_SCHEMA, PROFILE_DIR, costProfileNames, loadCostProfile } from '../src/model/cost-profile.ts';
import { COSTS, FLEET, LIMITS, defaultCosts } from '../src/model/defaults.ts';
import { simulate } from './helpers.ts';

const SHIPPED = ['jvm', 'native', 'node-worker'];
const THREAD_COSTS = ['bytesPerThread', 'threadSpawnUs', 'cpuUsPerWakeup'];
/** every shipped profile also carries a cold start's CPU per shard entry (src/live/shard-map-build.ts) */
const PROFILE_COSTS = [...THREAD_COSTS, 'cpuUsPerShardEntry'];
const raw = (name: string) => JSON.parse(readFileSync(resolve(PROFILE_DIR, `${name}.json`), 'utf8')) as { costs: Record<string, { value: number; source: string }> };

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fleetbench-costs-'));
});
afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe('shipped cost profiles', () => {
  it('the shipped names are native, jvm and node-worker', () => {
    expect(costProfileNames()).toEqual(SHIPPED);
  });

  it.each(SHIPPED)('%s loads by name, validates, and gives every figure a source', (name) => {
    const p = loadCostProfile(name);
    expect(p.schema).toBe(COST_PROFILE_SCHEMA);
    expect(p.origin).toBe(name);
    const file = raw(name);
    expect(Object.keys(file.costs).sort()).toEqual([...PROFILE_COSTS].sort());
    for (const [field, entry] of Object.entries(file.costs)) {
      expect(entry.source, `${name}.costs.${field}`).toMatch(/^(measured: .*(bench\/threads\/run\.ts|src\/live\/shard-map-build\.ts).*\d{4}-\d\d-\d\d|assumption: )/);
      expect(p.sources[field as keyof typeof p.sources]).toBe(entry.source);
    }
  });

  it.each(SHIPPED)('%s: the simulator gets only its own costs (the wakeup cost among them); the spawn cost is kept aside', (name) => {
    const p = loadCostProfile(name);
    expect(Object.keys(p.costs).every((k) => k in COSTS)).toBe(true);
    expect(p.costs.bytesPerThread).toBe(raw(name).costs.bytesPerThread.value);
    expect(Object.keys(p.unmodelled)).toEqual(['threadSpawnUs']);
    expect(p.unmodelled.threadSpawnUs).toBe(raw(name).costs.threadSpawnUs.value);
    expect(p.costs.cpuUsPerWakeup).toBe(raw(name).costs.cpuUsPerWakeup.value);
  });

  it('a file in calibrate\'s format (bare numbers, details) still loads by path', () => {
    const file = join(dir, 'calibrated.json');
    writeFileSync(file, JSON.stringify({ schema: COST_PROFILE_SCHEMA, measuredOn: { cpus: 2, node: 'v20' }, costs: { bytesPerThread: 13_000_000, cpuUsPerMessage: 4 }, details: { workerSpawnMs: 25 } }));
    const p = loadCostProfile(file);
    expect(p.costs).toEqual({ bytesPerThread: 13_000_000, cpuUsPerMessage: 4 });
    expect(p.sources).toEqual({});
  });
});

describe('bad cost profiles: one line naming the field, exit 2', () => {
  const profile = (costs: unknown, extra: Record<string, unknown> = {}) => ({ schema: COST_PROFILE_SCHEMA, costs, ...extra });
  const cases: Array<[string, unknown, RegExp]> = [
    ['unknown cost', profile({ bytesPerFibre: 1 }), /costs: Unrecognized key: "bytesPerFibre"; known: baseProcessBytes, .*cpuUsPerWakeup, timerLateMs, cpuUsPerShardEntry, threadSpawnUs/],
    ['unknown top-level field', profile({}, { comment: 'x' }), /\(root\): Unrecognized key: "comment"; known: schema, description/],
    ['negative cost', profile({ bytesPerThread: -1 }), /costs\.bytesPerThread: Too small: expected number to be >=0/],
    ['neither a number nor a sourced value', profile({ bytesPerThread: '8 KiB' }), /costs\.bytesPerThread: expected a number ≥ 0 or \{ value, unit\?, source \}/],
    ['wrong unit', profile({ bytesPerThread: { value: 8, unit: 'KiB', source: 'measured: x' } }), /costs\.bytesPerThread\.unit: expected "bytes"/],
    ['empty source', profile({ threadSpawnUs: { value: 30, source: '' } }), /costs\.threadSpawnUs\.source: name the command and date/],
    ['unknown field beside a value', profile({ threadSpawnUs: { value: 30, source: 'measured: x', note: 'y' } }), /costs\.threadSpawnUs: Unrecognized key: "note"; known: value, unit, source$/],
    ['another schema', { schema: 'fleetbench/costs@2', costs: {} }, /schema: /],
  ];
  it.each(cases)('%s', async (_name, data, message) => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify(data));
    const err = (() => {
      try {
        loadCostProfile(file);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    expect((err as Error).message).toMatch(message);
  });

  it('an unknown profile name lists the shipped ones, from the command line too', async () => {
    expect(() => loadCostProfile('nativ')).toThrow(/--costs: unknown cost profile "nativ"; known: jvm, native, node-worker, or a path/);
    let stderr = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    expect(await main(['run', '-q', '-p', 'thread-per-peer', '-s', 'steady', '--costs', 'nativ'])).toBe(2);
    expect(stderr.trim().split('\n')).toEqual([expect.stringMatching(/--costs: unknown cost profile "nativ"; known: jvm, native, node-worker/)]);
    stderr = '';
    expect(await main(['ceiling', '-q', '-p', 'thread-per-peer', '-s', 'steady', '--costs', 'nativ', '--out', join(dir, 'c.json')])).toBe(2);
    expect(stderr).toMatch(/--costs: unknown cost profile "nativ"/);
  });
});

/**
 * Which limit a thread-per-peer node hits first, from the model's own rules (src/sim/simulation.ts):
 * a node of an N-node fleet needs N−1 peer threads; the thread limit counts the base threads, and
 * a spawn is refused for memory once base + peer threads × bytesPerThread + the shard map would
 * pass the memory limit (connections and member records only add to that, so this N is an upper
 * bound on where memory binds).
 */
function crossovers(bytesPerThread: number, limits: { threadsPerNode: number; memoryBytesPerNode: number }) {
  const c = defaultCosts();
  const fixed = c.baseProcessBytes + FLEET.shards.value * c.bytesPerShardEntry;
  return {
    threads: limits.threadsPerNode - LIMITS.baseThreadsPerNode.value + 2,
    memory: Math.floor((limits.memoryBytesPerNode - fixed) / bytesPerThread) + 2,
  };
}

describe('the cost profile decides the binding limit of thread-per-peer', () => {
  const DEFAULT = { threadsPerNode: LIMITS.threadsPerNode.value, memoryBytesPerNode: LIMITS.memoryBytesPerNode.value };
  const bytesPerThread = (name: string) => loadCostProfile(name).costs.bytesPerThread!;

  it.each([
    ['node-worker', 'memory'],
    ['native', 'threads'],
    ['jvm', 'threads'],
  ])('with the default limits, under %s thread-per-peer meets %s first of threads and memory', (name, binding) => {
    // (fds, at 20,000, come before both for native and jvm; this is about threads against memory)
    const x = crossovers(bytesPerThread(name), DEFAULT);
    expect(x.memory < x.threads ? 'memory' : 'threads').toBe(binding);
  });

  it('native, kinesis-2020: the capacity addition hits the thread limit and never memory', async () => {
    const r = await simulate({ protocol: 'thread-per-peer', scenario: 'kinesis-2020', costsFile: 'native' });
    const hit = r.summary.limitsHit.map((l) => l.limit);
    expect(hit).toContain('threads');
    expect(hit).not.toContain('memory');
    expect(r.run.costs.bytesPerThread).toBe(bytesPerThread('native'));
    expect(r.run.costProfile).toBe('native');
  });

  // A fleet at the full-scale crossover (N ≈ 3,000 nodes × 3,000 threads) is too large for a test,
  // so the default limits are scaled down by one factor s: memory above the fixed costs and threads
  // above the base threads. Both crossovers then move by 1/s and the limit that binds first is the
  // one that binds at full scale. s puts node-worker's memory crossover at ~20 nodes.
  const fixed = defaultCosts().baseProcessBytes + FLEET.shards.value * defaultCosts().bytesPerShardEntry;
  const s = (DEFAULT.memoryBytesPerNode - fixed) / (20 * bytesPerThread('node-worker'));
  const scaled = {
    threadsPerNode: LIMITS.baseThreadsPerNode.value + Math.floor((DEFAULT.threadsPerNode - LIMITS.baseThreadsPerNode.value) / s),
    memoryBytesPerNode: Math.floor(fixed + (DEFAULT.memoryBytesPerNode - fixed) / s),
  };

  it.each([
    ['node-worker', 'memory', 'threads'],
    ['native', 'threads', 'memory'],
  ])('default limits scaled by 1/s, under %s a fleet just past the first crossover hits %s, not %s', async (name, binding, other) => {
    const x = crossovers(bytesPerThread(name), scaled);
    const nodes = Math.min(x.memory, x.threads);
    expect(nodes).toBeLessThan(300); // affordable in a test
    const r = await simulate({
      protocol: 'thread-per-peer',
      scenario: 'steady',
      nodes,
      durationMs: 2000,
      costsFile: name,
      sets: [`limits.threadsPerNode=${scaled.threadsPerNode}`, `limits.memoryBytesPerNode=${scaled.memoryBytesPerNode}`],
    });
    const hit = r.summary.limitsHit.map((l) => l.limit);
    expect(hit).toContain(binding);
    expect(hit).not.toContain(other);
  });
});
