// The reliability audit's cases (issue 15), one table per concern: each bad input gets exit 2 and
// one line naming the field, nothing on disk changes, no stack trace. Devices, FIFOs and symlinks
// are made inside a temporary directory: the real /dev is never touched.
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.ts';
import { readResult } from '../src/results/schema.ts';
import { resolveRun } from '../src/harness/run-config.ts';
import { checkSimCapacity, estimateSimCapacity, largestAdmitted, thisMachine } from '../src/sim/capacity.ts';
import { PROTOCOLS } from '../src/protocols.ts';
import { sweepLiveLeftovers, OWNER_FILE, STALE_BUNDLE_MS } from '../src/live/leftovers.ts';
import { HELLO_BYTES, HELLO_PEER, helloFrame, newRunToken, parseHello, tokenBytes } from '../src/live/transport.ts';
import { compareInputs } from '../src/compare/compare.ts';
import { loadInputs } from '../src/compare/inputs.ts';
import { failed } from '../src/compare/compare.ts';

const ROOT = resolve(import.meta.dirname, '..');

let dir: string;
let stderr: string;
let stdout: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fleetbench-hardening-'));
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

const QUICK = ['-p', 'swim', '-s', 'steady', '-n', '4', '-d', '500ms'];
const run = (...args: string[]) => main(['run', '-q', ...args]);
const oneLine = () => {
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
};
/** Every file under `d` with its bytes (or its kind, for what is not a regular file). */
const snapshot = (d: string): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const f of readdirSync(d).sort()) {
    const st = lstatSync(join(d, f));
    out[f] = st.isFile() ? readFileSync(join(d, f), 'utf8') : st.isSymbolicLink() ? 'symlink' : st.isCharacterDevice() ? 'chardev' : st.isFIFO() ? 'fifo' : 'other';
  }
  return out;
};
const made = (cmd: string, ...args: string[]) => spawnSync(cmd, args).status === 0;

describe('writes that cannot destroy (audit 1)', () => {
  const targets: Array<[string, (p: string) => boolean, RegExp]> = [
    ['a character device (mknod c 1 3, as /dev/null)', (p) => made('mknod', '-m', '666', p, 'c', '1', '3'), /it is a character device/],
    ['a FIFO', (p) => made('mkfifo', p), /it is a FIFO/],
    ['a symlink to a file', (p) => (writeFileSync(`${p}.target`, 'mine\n'), symlinkSync(`${p}.target`, p), true), /it is a symbolic link/],
    ['a directory', (p) => (mkdirSync(p), true), /it is a directory/],
  ];
  it.each(targets)('--out onto %s: exit 2, left as it was', async (_name, make, message) => {
    const target = join(dir, 'target');
    if (!make(target)) return; // mknod needs root: nothing to check without it
    const before = snapshot(dir);
    expect(await run(...QUICK, '--out', target)).toBe(2);
    expect(stderr).toMatch(message);
    oneLine();
    expect(snapshot(dir)).toEqual(before);
  });

  it('--out - writes the result through to standard output (documented)', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/fleetbench.mjs'), 'run', '-q', ...QUICK, '--out', '-'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).schema).toBe('fleetbench/result@1');
    expect(r.stderr).toMatch(/result: -/);
  });

  it('a name too long for the .PID.tmp suffix is still written, atomically', async () => {
    const out = join(dir, `${'r'.repeat(245)}.json`);
    expect(await run(...QUICK, '--out', out)).toBe(0);
    expect(readResult(out).run.protocol).toBe('swim');
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a failed final write (/sys) keeps the result and names where it went', async () => {
    const before = new Set(readdirSync(tmpdir()));
    const code = await run(...QUICK, '--out', '/sys/fleetbench-hardening-test.json');
    if (code === 0) return; // /sys writable here (not Linux): nothing to check
    expect(code).toBe(2);
    oneLine();
    const m = /saved to (\S+) instead/.exec(stderr);
    expect(m, stderr).not.toBeNull();
    try {
      expect(readResult(m![1]).run.protocol).toBe('swim');
    } finally {
      rmSync(m![1], { force: true });
    }
    expect(readdirSync(tmpdir()).filter((f) => !before.has(f) && f.startsWith('fleetbench-rescued'))).toEqual([]);
  });
});

describe('ownership before deletion (audit 2)', () => {
  it('sweep --fresh deletes nothing it did not write', async () => {
    expect(await run('-p', 'async-multiplexed', '-s', 'steady', '-n', '4', '-d', '500ms', '--out', join(dir, 'steady-async-multiplexed-n30-s1.json'))).toBe(0);
    writeFileSync(join(dir, 'steady-important-n1-s1.json'), '{"my":"notes"}');
    const before = snapshot(dir);
    expect(await main(['sweep', '--fresh', '--protocols', 'swim', '--nodes', '4', '-s', 'steady', '-d', '500ms', '--jobs', '1', '--out', dir])).toBe(0);
    const after = snapshot(dir);
    for (const [f, text] of Object.entries(before)) expect(after[f]).toBe(text);
    expect(Object.keys(after)).toContain('steady-swim-n4-s1.json');
  });

  it('a file named like a cell that the sweep did not write is refused, not replaced', async () => {
    writeFileSync(join(dir, 'steady-swim-n4-s1.json'), '{"my":"notes"}');
    const before = snapshot(dir);
    for (const extra of [[], ['--fresh']]) {
      stderr = '';
      expect(await main(['sweep', ...extra, '--protocols', 'swim', '--nodes', '4', '-s', 'steady', '-d', '500ms', '--out', dir])).toBe(2);
      expect(stderr).toMatch(/steady-swim-n4-s1\.json exists but was not written by this sweep/);
      oneLine();
      expect(snapshot(dir)['steady-swim-n4-s1.json']).toBe(before['steady-swim-n4-s1.json']);
    }
  });

  it('a sweep.json from before ownership was recorded owns its own grid\'s cells, and only those', async () => {
    const args = ['--protocols', 'swim', '--nodes', '4', '-s', 'steady', '-d', '500ms', '--jobs', '1', '--out', dir];
    expect(await main(['sweep', ...args])).toBe(0);
    const manifest = JSON.parse(readFileSync(join(dir, 'sweep.json'), 'utf8'));
    delete manifest.files;
    writeFileSync(join(dir, 'sweep.json'), JSON.stringify(manifest));
    writeFileSync(join(dir, 'steady-swim-n5-s1.json'), '{"my":"notes"}');
    // a new grid with --fresh: the old grid's cell goes, the user's file named like a cell stays
    expect(await main(['sweep', '--fresh', ...args.map((a) => (a === '4' ? '6' : a))])).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['steady-swim-n5-s1.json', 'steady-swim-n6-s1.json', 'sweep.json']);
    expect(JSON.parse(readFileSync(join(dir, 'sweep.json'), 'utf8')).files).toEqual(['steady-swim-n6-s1.json']);
  });

  it('merge copies only the cells of the grid', async () => {
    const part = join(dir, 'part');
    expect(await main(['sweep', '--protocols', 'swim', '--nodes', '4', '-s', 'steady', '-d', '500ms', '--jobs', '1', '--out', part])).toBe(0);
    writeFileSync(join(part, 'notes.json'), '{"my":"notes"}');
    writeFileSync(join(part, 'steady-swim-n99-s1.json'), '{"not":"in the grid"}');
    expect(await main(['merge', part, '--out', join(dir, 'merged')])).toBe(0);
    expect(readdirSync(join(dir, 'merged')).sort()).toEqual(['steady-swim-n4-s1.json', 'sweep.json']);
  });
});

/** A scenario like `steady` with fields replaced. */
const scenarioFile = (patch: Record<string, unknown>, name = 'custom.json'): string => {
  const base = JSON.parse(readFileSync(join(ROOT, 'bench/scenarios/steady.json'), 'utf8'));
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify({ ...base, name: 'custom', ...patch }));
  return file;
};

describe('sizes refused up front, with the field named (audit 3)', () => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['reshards.perSec 1e300', { reshards: { perSec: 1e300 } }, /reshards\.perSec: Too big/],
    ['durationMs 1e300', { durationMs: 1e300 }, /durationMs: Too big/],
    ['add.count 1e7', { events: [{ type: 'add', atMs: 10, count: 1e7 }] }, /events\.0\.count: Too big/],
    ['reshardStorm.count 1e12', { events: [{ type: 'reshardStorm', atMs: 10, count: 1e12 }] }, /events\.0\.count: Too big/],
    ['fleet.requestsPerSec 1e15', { fleet: { requestsPerSec: 1e15 } }, /fleet\.requestsPerSec: Too big/],
    ['fleet.shards 1e15', { fleet: { shards: 1e15 } }, /fleet\.shards: Too big/],
    ['fleet.clusters 1e12', { fleet: { clusters: 1e12 } }, /fleet\.clusters: Too big/],
    ['a fleet grown past the maximum by adds', { nodes: 900_000, events: [{ type: 'add', atMs: 10, count: 200_000 }] }, /events\.0\.count: the fleet would grow to 1100000 nodes/],
  ];
  it.each(cases)('%s: exit 2, one line', async (_name, patch, message) => {
    expect(await run('-p', 'swim', '-s', scenarioFile(patch))).toBe(2);
    expect(stderr).toMatch(message);
    oneLine();
  });

  it('-s /dev/zero is refused at the size cap, not read whole', async () => {
    expect(await run('-p', 'swim', '-s', '/dev/zero')).toBe(2);
    expect(stderr).toMatch(/over the limit/);
    oneLine();
  });

  it('compare a.json /dev/zero is refused at the size cap', async () => {
    const a = join(dir, 'a.json');
    expect(await run(...QUICK, '--out', a)).toBe(0);
    stderr = '';
    expect(await main(['compare', a, '/dev/zero'])).toBe(2);
    expect(stderr).toMatch(/\/dev\/zero: more than \d+ bytes/);
    oneLine();
  });

  it('every problem of a scenario is reported, one line each', async () => {
    expect(await run('-p', 'swim', '-s', scenarioFile({ durationMs: -1, nodes: 0, reshards: { perSec: 1e300 } }))).toBe(2);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(3);
    for (const field of ['nodes', 'durationMs', 'reshards.perSec']) expect(lines.some((l) => l.includes(`: ${field}: `))).toBe(true);
  });

  it('a scenario without a description runs', async () => {
    const { description: _d, ...rest } = JSON.parse(readFileSync(join(ROOT, 'bench/scenarios/steady.json'), 'utf8'));
    const file = join(dir, 'nodesc.json');
    writeFileSync(file, JSON.stringify({ ...rest, name: 'nodesc' }));
    expect(await run('-p', 'swim', '-s', file, '-n', '4', '-d', '500ms', '--out', join(dir, 'r.json'))).toBe(0);
  });
});

describe('the simulator capacity estimate (audit 3)', () => {
  it.each([...PROTOCOLS.keys()])('%s: -n 1000000 -d 1s is refused with the estimate', (protocol) => {
    const cfg = resolveRun({ protocol, scenario: 'steady', nodes: 1_000_000, durationMs: 1000 });
    expect(() => checkSimCapacity(cfg)).toThrow(/--nodes: .* at 1,000,000 nodes needs .*(GiB|words)/);
  });

  it.each([...PROTOCOLS.keys()])('%s: the largest admitted size passes the check and its estimate is within the budgets', (protocol) => {
    const cfg = resolveRun({ protocol, scenario: 'steady', nodes: 10, durationMs: 1000 });
    const n = largestAdmitted(cfg);
    expect(n).toBeGreaterThan(100);
    expect(() => checkSimCapacity({ ...cfg, nodes: n })).not.toThrow();
    expect(() => checkSimCapacity({ ...cfg, nodes: n + 1 })).toThrow(UsageErrorLike);
    const e = estimateSimCapacity({ ...cfg, nodes: n });
    expect(e.typedBytes + e.heapBytes).toBeLessThan(thisMachine().totalMemBytes);
  });

  const sets: Array<[string, RegExp]> = [
    ['fleet.shards=1e15', /^fleet\.shards: swim at 10 nodes needs a shard array of 1\.00e\+15 entries/],
    ['fleet.clusters=1e12', /^fleet\.clusters: swim at 10 nodes needs about [\d,]+ GiB \(cluster lists/],
  ];
  it.each(sets)('--set %s (accepted by --set today) is refused by the estimate', (set, message) => {
    let cfg;
    try {
      cfg = resolveRun({ protocol: 'swim', scenario: 'steady', nodes: 10, durationMs: 1000, sets: [set] });
    } catch {
      return; // refused earlier, by --set itself: as good
    }
    expect(() => checkSimCapacity(cfg)).toThrow(message);
  });

  it('the view bit-matrix is nodes² / 8 bytes', () => {
    const cfg = resolveRun({ protocol: 'swim', scenario: 'steady', nodes: 3200, durationMs: 1000 });
    expect(estimateSimCapacity(cfg).parts.viewMatrix).toBe((3200 * 3200) / 8);
  });
});
const UsageErrorLike = /--nodes: /;

describe('strict, own-property validation (audit: --set, cost profiles, result files)', () => {
  // --set is validated through the scenario schemas: own names only, one dot at most, decimal numbers
  const sets: string[] = ['constructor=1', 'toString=1', '__proto__=1', 'limits.constructor=5', 'costs.valueOf=5', 'limits.threadsPerNode.extra=300', 'limits.threadsPerNode=0x10', 'fleet.requestsPerSec=1e15'];
  it.each(sets)('--set %s is refused with exit 2', async (set) => {
    expect(await run(...QUICK, '--set', set, '--out', join(dir, 'r.json'))).toBe(2);
    expect(existsSync(join(dir, 'r.json'))).toBe(false);
  });

  const profiles: Array<[string, unknown, RegExp]> = [
    ['an unknown top-level name', { schema: 'fleetbench/costs@1', costs: {}, extra: 1 }, /Unrecognized key.*"extra"/],
    ['an unknown cost', { schema: 'fleetbench/costs@1', costs: { bytesPerUnicorn: 5 } }, /costs: Unrecognized key.*bytesPerUnicorn/],
    ['an inherited name as a cost', { schema: 'fleetbench/costs@1', costs: { constructor: 5 } }, /costs: Unrecognized key.*constructor/],
    ['an inherited name in measuredOn', JSON.parse('{"schema":"fleetbench/costs@1","costs":{},"measuredOn":{"toString":"x"}}'), /measuredOn\.toString: Invalid key in record/],
    ['a negative cost', { schema: 'fleetbench/costs@1', costs: { bytesPerThread: -1 } }, /costs\.bytesPerThread: Too small/],
  ];
  it.each(profiles)('a cost profile with %s: exit 2 naming it', async (_name, profile, message) => {
    const file = join(dir, 'costs.json');
    writeFileSync(file, JSON.stringify(profile));
    expect(await run(...QUICK, '--costs', file, '--out', join(dir, 'r.json'))).toBe(2);
    expect(stderr).toMatch(message);
    expect(existsSync(join(dir, 'r.json'))).toBe(false);
  });

  it('a cost profile with a UTF-8 BOM is read', async () => {
    const file = join(dir, 'costs.json');
    writeFileSync(file, '\ufeff' + JSON.stringify({ schema: 'fleetbench/costs@1', costs: { bytesPerThread: 1_000_000 } }));
    expect(await run(...QUICK, '--costs', file, '--out', join(dir, 'r.json'))).toBe(0);
  });

  const results: Array<[string, (r: any) => void, RegExp]> = [
    ['an unknown name', (r) => (r.summary.extra = 1), /summary: Unrecognized key.*"extra"/],
    ['negative nodes', (r) => (r.run.nodes = -5), /run\.nodes: Too small/],
    ['negative memory', (r) => (r.summary.memory.peakBytesPerNode = -1), /summary\.memory\.peakBytesPerNode: Too small/],
    ['an inherited name as a counter', (r) => (r.summary.protocolCounters = JSON.parse('{"constructor": 1}')), /protocolCounters\.constructor: Invalid key in record/],
  ];
  it.each(results)('a result file with %s is refused on read, naming the field', async (_name, spoil, message) => {
    const file = join(dir, 'r.json');
    expect(await run(...QUICK, '--out', file)).toBe(0);
    const r = JSON.parse(readFileSync(file, 'utf8'));
    spoil(r);
    writeFileSync(file, JSON.stringify(r));
    expect(() => readResult(file)).toThrow(message);
  });
});

describe('errors are one safe line (audit)', () => {
  it('a UTF-8 BOM in a scenario is accepted', async () => {
    const file = join(dir, 'bom.json');
    writeFileSync(file, '\ufeff' + readFileSync(join(ROOT, 'bench/scenarios/steady.json'), 'utf8'));
    expect(await run('-p', 'swim', '-s', file, '-n', '4', '-d', '500ms', '--out', join(dir, 'r.json'))).toBe(0);
  });

  it('terminal escapes from a file are escaped, never written raw', async () => {
    expect(await run('-p', 'swim', '-s', scenarioFile({ 'evil\u001b[2J\u001b]0;pwned\u0007\nfake line': 1 }))).toBe(2);
    expect(stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/);
    expect(stderr).toMatch(/\\x1b\[2J/);
    oneLine();
  });

  it('invalid JSON is reported without echoing the file\'s bytes', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, '{"name": SECRET-BYTES\u001b[31m}');
    expect(await run('-p', 'swim', '-s', file)).toBe(2);
    expect(stderr).toMatch(/bad\.json: not valid JSON/);
    expect(stderr).not.toMatch(/SECRET|\u001b/);
    oneLine();
  });

  it('an unknown option with terminal escapes is quoted escaped', async () => {
    expect(await main(['run', '-p', 'swim', '-s', 'steady', '--bogus\u001b[31mred'])).toBe(2);
    expect(stderr).toMatch(/unknown option '--bogus\\x1b\[31mred'/);
    expect(stderr).not.toMatch(/\u001b/);
  });

  it('calibrate --transport foo: exit 2, one line', async () => {
    expect(await main(['calibrate', '--transport', 'foo', '--out', join(dir, 'c.json')])).toBe(2);
    expect(stderr).toMatch(/--transport: expected ws or uws, got "foo"/);
    oneLine();
  });
});

describe('compare --fail-on-change (issue 9)', () => {
  it('fails when a result exists only in the baseline', async () => {
    const [base, head] = [join(dir, 'base'), join(dir, 'head')];
    expect(await run(...QUICK, '--out', join(base, 'a.json'))).toBe(0);
    expect(await run('-p', 'swim', '-s', 'steady', '-n', '5', '-d', '500ms', '--out', join(base, 'b.json'))).toBe(0);
    mkdirSync(head);
    writeFileSync(join(head, 'a.json'), readFileSync(join(base, 'a.json')));
    const c = compareInputs(loadInputs([base]), loadInputs([head]));
    expect(c.onlyInBase).toHaveLength(1);
    expect(failed(c, { failOnChange: true })).toBe(true);
    expect(failed(c, {})).toBe(false);
    stderr = '';
    expect(await main(['compare', base, head, '--fail-on-change'])).toBe(1);
    expect(stderr).toMatch(/1 baseline cell\(s\) missing from head/);
  });
});

describe('live runs that survive their network (audit 5)', () => {
  it("the audit's hello [1, 3,0,0,0] is not a hello: it lacks the run's token", () => {
    const token = tokenBytes(newRunToken());
    expect(parseHello(new Uint8Array([1, 3, 0, 0, 0]), token)).toBeNull();
    expect(parseHello(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), token)).toBeNull();
    expect(parseHello(helloFrame(HELLO_PEER, 3, tokenBytes(newRunToken())), token)).toBeNull();
    expect(parseHello(helloFrame(HELLO_PEER, 3, token), token)).toEqual({ kind: HELLO_PEER, id: 3 });
    expect(helloFrame(HELLO_PEER, 3, token)).toHaveLength(HELLO_BYTES);
  });

  it("sweepLiveLeftovers removes a dead run's cgroups and bundle dirs, and nothing of a live one", () => {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const cg = join(dir, 'cgroup'), tmp = join(dir, 'tmp');
    for (const d of [`fleetbench-${dead}-abc/node-0`, `fleetbench-${dead}-abc/node-1`, `fleetbench-${process.ppid}-abc/node-0`, 'someone-else/node-0']) mkdirSync(join(cg, d), { recursive: true });
    for (const [d, owner] of [['fleetbench-live-dead', dead], ['fleetbench-live-alive', process.ppid], ['fleetbench-live-young', null], ['fleetbench-live-old', null], ['other-dir', dead]] as const) {
      mkdirSync(join(tmp, d), { recursive: true });
      if (owner !== null) writeFileSync(join(tmp, d, OWNER_FILE), String(owner));
    }
    const old = (Date.now() - 2 * STALE_BUNDLE_MS) / 1000;
    utimesSync(join(tmp, 'fleetbench-live-old'), old, old);
    const s = sweepLiveLeftovers({ cgroupRoots: [cg], tmp });
    expect(readdirSync(cg).sort()).toEqual([`fleetbench-${process.ppid}-abc`, 'someone-else']);
    expect(readdirSync(tmp).sort()).toEqual(['fleetbench-live-alive', 'fleetbench-live-young', 'other-dir']);
    expect(s.cgroups).toEqual([join(cg, `fleetbench-${dead}-abc`)]);
    expect(s.bundles.sort()).toEqual([join(tmp, 'fleetbench-live-dead'), join(tmp, 'fleetbench-live-old')]);
  });
});
