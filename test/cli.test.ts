// Bad input gets one clear line naming the field, exit code 2, and no result file on disk is damaged.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.ts';
import { readResult } from '../src/results/schema.ts';

const ROOT = resolve(import.meta.dirname, '..');

let dir: string;
let stderr: string;
let stdout: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fleetbench-cli-'));
  stderr = '';
  stdout = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((stdout += String(s)), true));
});
afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const run = (...args: string[]) => main(['run', '-q', ...args]);

describe('fleetbench run: bad input', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['unknown protocol', ['-p', 'paxos', '-s', 'steady'], /--protocol: unknown protocol "paxos"; known: thread-per-peer, async-multiplexed/],
    ['unknown scenario', ['-p', 'async-multiplexed', '-s', 'nope'], /--scenario: unknown scenario "nope"; known: .*steady/],
    ['zero nodes', ['-p', 'async-multiplexed', '-s', 'steady', '--nodes', '0'], /--nodes: expected an integer ≥ 1/],
    ['negative nodes', ['-p', 'async-multiplexed', '-s', 'steady', '--nodes', '-5'], /--nodes: expected an integer ≥ 1/],
    ['non-integer nodes', ['-p', 'async-multiplexed', '-s', 'steady', '--nodes', 'ten'], /--nodes: expected an integer, got "ten"/],
    ['bad duration', ['-p', 'async-multiplexed', '-s', 'steady', '--duration', 'soon'], /--duration: "soon" is not a duration/],
    ['unknown parameter', ['-p', 'async-multiplexed', '-s', 'steady', '--set', 'fanout=3'], /--set fanout: async-multiplexed has no parameter "fanout"; known: syncIntervalMs/],
    ['out-of-range limit', ['-p', 'async-multiplexed', '-s', 'steady', '--set', 'limits.threadsPerNode=0'], /--set limits.threadsPerNode: Too small: expected number to be >=1, got 0/],
    ['malformed set', ['-p', 'async-multiplexed', '-s', 'steady', '--set', 'limits.threadsPerNode'], /--set: "limits.threadsPerNode" is not key=value/],
    // --set is validated by the schemas scenarios and cost profiles use: own names only, one dot, decimal numbers
    ['inherited name', ['-p', 'async-multiplexed', '-s', 'steady', '--set', 'constructor=1'], /--set constructor: async-multiplexed has no parameter "constructor"/],
    ['inherited limit', ['-p', 'async-multiplexed', '-s', 'steady', '--set', 'limits.constructor=5'], /--set limits.constructor: unknown limit/],
    ['inherited cost', ['-p', 'async-multiplexed', '-s', 'steady', '--set', 'costs.valueOf=5'], /--set costs.valueOf: unknown cost/],
    ['extra path segment', ['-p', 'async-multiplexed', '-s', 'steady', '--set', 'limits.threadsPerNode.extra=300'], /--set limits.threadsPerNode.extra: a key is a parameter name or group.name/],
    ['hexadecimal number', ['-p', 'async-multiplexed', '-s', 'steady', '--set', 'limits.threadsPerNode=0x10'], /--set limits.threadsPerNode: .*expected number.*"0x10"/],
    ['fractional thread limit', ['-p', 'async-multiplexed', '-s', 'steady', '--set', 'limits.threadsPerNode=2.5'], /--set limits.threadsPerNode: .*expected int.*got 2.5/],
    ['loss out of range', ['-p', 'async-multiplexed', '-s', 'steady', '--set', 'network.lossRate=1.5'], /--set network.lossRate: Too big: expected number to be <=1, got 1.5/],
  ];
  it.each(cases)('%s: one line, exit 2', async (_name, args, message) => {
    expect(await run(...args)).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a malformed scenario file names the field', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ name: 'bad', description: 'x', nodes: 10, durationMs: 1000, events: [{ type: 'crash', atMs: 10, count: -3 }] }));
    expect(await run('-p', 'async-multiplexed', '-s', file)).toBe(2);
    expect(stderr).toMatch(/scenario .*bad\.json: events\.0\.count: Too small: expected number to be >=1/);
  });

  it('a scenario event after the end of the run is refused', async () => {
    const file = join(dir, 'late.json');
    writeFileSync(file, JSON.stringify({ name: 'late', description: 'x', nodes: 10, durationMs: 1000, events: [{ type: 'crash', atMs: 5000, count: 1 }] }));
    expect(await run('-p', 'async-multiplexed', '-s', file)).toBe(2);
    expect(stderr).toMatch(/events\.0\.atMs: 5000 is after the end of the run/);
  });

  it('a scenario that is not JSON says so', async () => {
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{ "name": ');
    expect(await run('-p', 'async-multiplexed', '-s', file)).toBe(2);
    expect(stderr).toMatch(/not valid JSON/);
  });

  it('an unwritable --out is refused before anything runs', async () => {
    const blocker = join(dir, 'file');
    writeFileSync(blocker, 'x');
    expect(await run('-p', 'async-multiplexed', '-s', 'steady', '--out', join(blocker, 'r.json'))).toBe(2);
    expect(stderr).toMatch(/--out: cannot write .*r\.json/);
    expect(await run('-p', 'async-multiplexed', '-s', 'steady', '--out', dir)).toBe(2);
    expect(stderr).toMatch(/it is a directory/);
  });

  it('bad input leaves an existing result file untouched', async () => {
    const out = join(dir, 'r.json');
    expect(await run('-p', 'async-multiplexed', '-s', 'steady', '-n', '10', '-d', '2s', '--out', out)).toBe(0);
    const before = readFileSync(out, 'utf8');
    expect(await run('-p', 'async-multiplexed', '-s', 'steady', '-n', '0', '--out', out)).toBe(2);
    expect(await run('-p', 'async-multiplexed', '-s', 'steady', '--set', 'x=1', '--out', out)).toBe(2);
    expect(readFileSync(out, 'utf8')).toBe(before);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('fleetbench run and list', () => {
  it('run writes a valid result file and prints the comparison table', async () => {
    const out = join(dir, 'r.json');
    expect(await run('-p', 'thread-per-peer', '-s', 'crash', '-n', '12', '-d', '8s', '--seed', '3', '--set', 'syncIntervalMs=500', '--out', out)).toBe(0);
    const r = readResult(out);
    expect(r.run).toMatchObject({ protocol: 'thread-per-peer', runtime: 'sim', nodes: 12, seed: 3, durationMs: 8000, completed: true });
    expect(r.run.params.syncIntervalMs).toBe(500);
    expect(stdout).toMatch(/thread-per-peer/);
    expect(stdout).toMatch(/misroutes/);
  });

  it('list names every protocol and scenario with a line each', async () => {
    expect(await main(['list'])).toBe(0);
    for (const name of ['thread-per-peer', 'async-multiplexed', 'steady', 'join', 'crash', 'kinesis-2020']) expect(stdout).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
  });

  it('readResult rejects a file of another schema with one clear line', () => {
    const file = join(dir, 'other.json');
    writeFileSync(file, JSON.stringify({ schema: 'something/else@2' }));
    expect(() => readResult(file)).toThrow(/schema is "something\/else@2", expected "fleetbench\/result@1"/);
  });
});

describe('the fleetbench binary', () => {
  it('exits 2 with one line on stderr for bad input', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/fleetbench.mjs'), 'run', '-p', 'nope', '-s', 'steady'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toMatch(/^fleetbench: --protocol: unknown protocol "nope"/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('explains its commands with --help', () => {
    const text = execFileSync(process.execPath, [join(ROOT, 'bin/fleetbench.mjs'), 'run', '--help'], { encoding: 'utf8' });
    for (const flag of ['--protocol', '--scenario', '--nodes', '--seed', '--duration', '--set', '--out']) expect(text).toContain(flag);
    expect(existsSync(join(ROOT, 'bin/fleetbench.mjs'))).toBe(true);
  });

  // regression: the simulator ran synchronously, so the SIGINT handler only ran after the whole
  // run had finished; now the run yields to the event loop between batches of events
  it('Ctrl-C stops a long run early and still writes its result, marked incomplete', async () => {
    const out = join(dir, 'interrupted.json');
    const child = spawn(process.execPath, [join(ROOT, 'bin/fleetbench.mjs'), 'run', '-p', 'thread-per-peer', '-s', 'steady', '-n', '300', '-d', '600s', '--out', out], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    // interrupt once the run is under way: it says so on stderr (no terminal, so no progress bar)
    await new Promise<void>((started) =>
      child.stderr.on('data', (d) => {
        err += String(d);
        if (/^run: /m.test(err)) started();
      }),
    );
    await new Promise((r) => setTimeout(r, 500));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code).toBe(130);
    expect(err).toMatch(/interrupted/);
    const r = readResult(out);
    expect(r.run.completed).toBe(false);
    expect(r.run.simulatedMs).toBeGreaterThan(0);
    expect(r.run.simulatedMs).toBeLessThan(600_000);
  });
});
