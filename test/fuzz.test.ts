// Property-based tests (fast-check) over what fleetbench reads: scenario files, cost profiles and
// result files. Whatever the bytes, a reader either accepts the document or throws a UsageError
// whose lines each name a field, with no control character in them; no other exception escapes,
// and nothing on disk changes. Runs are bounded (numRuns) and seeded by fast-check's defaults.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { UsageError } from '../src/errors.ts';
import { parseScenario, loadScenario } from '../src/harness/scenario.ts';
import { loadCostProfile } from '../src/model/cost-profile.ts';
import { readResult, type Result } from '../src/results/schema.ts';
import { main } from '../src/cli/main.ts';
import { simulate } from './helpers.ts';

const ROOT = resolve(import.meta.dirname, '..');
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

let dir: string;
let result: Result;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleetbench-fuzz-'));
  result = await simulate({ protocol: 'swim', scenario: 'steady', nodes: 4, durationMs: 1000 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every path to a value inside `v` (objects and arrays included), root excluded. */
function paths(v: Json, prefix: (string | number)[] = []): (string | number)[][] {
  if (v === null || typeof v !== 'object') return [];
  const out: (string | number)[][] = [];
  for (const [k, child] of Object.entries(v)) {
    const p = [...prefix, Array.isArray(v) ? Number(k) : k];
    out.push(p, ...paths(child as Json, p));
  }
  return out;
}

function setAt(v: Json, path: (string | number)[], value: Json | undefined): Json {
  const copy = structuredClone(v) as any;
  let o = copy;
  for (const k of path.slice(0, -1)) o = o[k];
  const last = path[path.length - 1];
  if (value === undefined) delete o[last];
  else o[last] = value;
  return copy;
}

/** A document with one place changed: replaced by any JSON value, deleted, or a new key added. */
function mutated(base: Json): fc.Arbitrary<{ doc: Json; path: string }> {
  const all = paths(base);
  return fc.oneof(
    fc.record({ i: fc.nat(all.length - 1), v: fc.jsonValue() }).map(({ i, v }) => ({ doc: setAt(base, all[i], v as Json), path: all[i].join('.') })),
    fc.nat(all.length - 1).map((i) => ({ doc: setAt(base, all[i], undefined), path: all[i].join('.') })),
    fc.record({ key: fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty')), v: fc.jsonValue() }).map(({ key, v }) => {
      const objects = [[], ...all].filter((p) => {
        let o: any = base;
        for (const k of p) o = o[k];
        return o !== null && typeof o === 'object' && !Array.isArray(o);
      });
      const p = objects[key.length % objects.length];
      const doc = structuredClone(base) as any;
      let o = doc;
      for (const k of p) o = o[k];
      Object.defineProperty(o, key, { value: v, enumerable: true, configurable: true, writable: true });
      return { doc: JSON.parse(JSON.stringify(doc)), path: [...p, key].join('.') };
    }),
  );
}

/** The reader accepted it, or refused it with UsageError lines that each name a field safely. */
function refusedWell(fn: () => unknown, prefix: RegExp): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    for (const line of e.message.split('\n')) {
      expect(line).toMatch(prefix);
      expect(line).not.toMatch(CONTROL);
    }
    return false;
  }
}

const steady = JSON.parse(readFileSync(join(ROOT, 'bench/scenarios/steady.json'), 'utf8')) as Json;

describe('scenario files', () => {
  it('a scenario changed in one place is accepted or refused with each problem on its own line', () => {
    fc.assert(
      fc.property(mutated(steady), ({ doc }) => {
        refusedWell(() => parseScenario(doc, 'fuzz'), /^scenario fuzz: .+: |^scenario fuzz: network\.latencyMeanMs/);
      }),
      { numRuns: 300 },
    );
  });

  it('a number outside its field\'s range is refused, naming that field', () => {
    const numeric = paths(steady).filter((p) => {
      let o: any = steady;
      for (const k of p) o = o[k];
      return typeof o === 'number';
    });
    const bad = fc.oneof(fc.constantFrom(-1, -1e300, 1e300, 1e15, Number.MAX_SAFE_INTEGER * 4), fc.double({ min: -1e308, max: -1e-9, noNaN: true }));
    fc.assert(
      fc.property(fc.nat(numeric.length - 1), bad, (i, v) => {
        const field = numeric[i].join('.');
        expect(() => parseScenario(setAt(steady, numeric[i], v), 'fuzz')).toThrow(new RegExp(`scenario fuzz: ${field.replace(/\./g, '\\.')}: `));
      }),
      { numRuns: 100 },
    );
  });

  it('any bytes as a scenario file: refused with one named line, or valid', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.string().map((s) => new TextEncoder().encode(s))), (bytes) => {
        const file = join(dir, 'scenario.json');
        writeFileSync(file, bytes);
        refusedWell(() => loadScenario(file), /^scenario /);
      }),
      { numRuns: 200 },
    );
  });
});

describe('cost profiles', () => {
  const profile: Json = { schema: 'fleetbench/costs@1', measuredOn: { cpuModel: 'x', cpus: 2 }, costs: { bytesPerThread: 1e6, cpuUsPerMessage: 3 } };
  it('a profile changed in one place is accepted or refused naming the field', () => {
    fc.assert(
      fc.property(mutated(profile), ({ doc }) => {
        const file = join(dir, 'costs.json');
        writeFileSync(file, JSON.stringify(doc));
        refusedWell(() => loadCostProfile(file), /^--costs .*costs\.json: .+: /);
      }),
      { numRuns: 300 },
    );
  });

  it('an unknown or inherited name anywhere is refused', () => {
    const names = fc.oneof(fc.constantFrom('constructor', 'toString', 'valueOf', '__proto__', 'extra'), fc.string({ minLength: 1 }).filter((s) => !['bytesPerThread', 'cpuUsPerMessage', 'schema', 'measuredOn', 'costs', 'details', 'cpuModel', 'cpus'].includes(s)));
    fc.assert(
      fc.property(names, fc.constantFrom([], ['costs']), (name, at) => {
        const doc = JSON.parse(JSON.stringify(profile));
        const target = at.length ? doc.costs : doc;
        Object.defineProperty(target, name, { value: 1, enumerable: true, configurable: true, writable: true });
        const file = join(dir, 'costs.json');
        writeFileSync(file, JSON.stringify(doc));
        expect(() => loadCostProfile(file)).toThrow(UsageError);
      }),
      { numRuns: 100 },
    );
  });
});

describe('result files', () => {
  it('a result changed in one place is accepted or refused naming the field', () => {
    fc.assert(
      fc.property(mutated(result as unknown as Json), ({ doc }) => {
        const file = join(dir, 'r.json');
        writeFileSync(file, JSON.stringify(doc));
        refusedWell(() => readResult(file), /r\.json: (schema is|.+: )/);
      }),
      { numRuns: 300 },
    );
  });

  it('a negative count, size or time anywhere in the summary is refused on read', () => {
    const numeric = paths(result as unknown as Json).filter((p) => {
      let o: any = result;
      for (const k of p) o = o[k];
      return typeof o === 'number' && (p[0] === 'summary' || p[0] === 'timeseries') && !p.includes('healthChecks');
    });
    fc.assert(
      fc.property(fc.nat(numeric.length - 1), fc.double({ min: -1e12, max: -1e-6, noNaN: true }), (i, v) => {
        const file = join(dir, 'r.json');
        writeFileSync(file, JSON.stringify(setAt(result as unknown as Json, numeric[i], v)));
        expect(() => readResult(file)).toThrow(numeric[i].join('.'));
      }),
      { numRuns: 100 },
    );
  });
});

describe('the CLI', () => {
  let stderr = '';
  beforeEach(() => {
    stderr = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  });
  afterEach(() => {
    vi.restoreAllMocks();
    process.exitCode = undefined;
  });

  it('a broken scenario or cost profile: exit 2, a named line per problem, no file changed', async () => {
    const work = mkdtempSync(join(dir, 'cli-'));
    const existing = join(work, 'r.json');
    writeFileSync(existing, 'an earlier result\n');
    const snapshot = () => Object.fromEntries(readdirSync(work).sort().map((f) => [f, readFileSync(join(work, f), 'utf8')]));
    const brokenScenario = mutated(steady).filter(({ doc }) => !refusedWell(() => parseScenario(doc, 'x'), /./));
    await fc.assert(
      fc.asyncProperty(fc.oneof(brokenScenario.map((m) => ({ kind: 's', text: JSON.stringify(m.doc) })), fc.string().map((t) => ({ kind: 'c', text: t }))), async ({ kind, text }) => {
        const input = join(dir, 'input.json');
        writeFileSync(input, text);
        const before = snapshot();
        stderr = '';
        const args = kind === 's' ? ['-s', input] : ['-s', 'steady', '--costs', input];
        const code = await main(['run', '-q', '-p', 'swim', '-n', '4', '-d', '500ms', ...args, '--out', existing]);
        expect(code).toBe(2);
        for (const line of stderr.trim().split('\n')) {
          expect(line).toMatch(/^fleetbench: (scenario|--costs) /);
          expect(line).not.toMatch(CONTROL);
        }
        expect(snapshot()).toEqual(before);
      }),
      { numRuns: 60 },
    );
  });
});
