// Protocol code must stay sans-I/O: it imports only the contract (and other protocol files) and
// never reaches for clocks, timers, randomness or the process. This is what lets the same code
// run deterministically in the simulator and for real in the live runtime.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const PROTOCOLS = join(ROOT, 'protocols');
const FIXTURES = join(ROOT, 'test/fixtures/protocols');
const CONTRACT = join(ROOT, 'src/contract');
/** where protocol code lives: every registered protocol, and the test fixtures' */
const PROTOCOL_DIRS = [PROTOCOLS, FIXTURES];

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

const FORBIDDEN = [
  /\bDate\b/,
  /\bMath\.random\b/,
  /\bperformance\b/,
  /\bsetTimeout\b|\bsetInterval\b|\bsetImmediate\b|\bqueueMicrotask\b/,
  /\bprocess\./,
  /\brequire\(/,
  /\bimport\(/,
  /\bconsole\b/,
  /\bBuffer\b/,
  /\bcrypto\b/,
  /\bglobalThis\b/,
  /\bfetch\(/,
  /\bWebSocket\b/,
];

/** What in `src` (as if it were the file at `file`) breaks the contract. */
function violations(file: string, src = readFileSync(file, 'utf8')): string[] {
  const out: string[] = [];
  const code = src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  // `import x from 'm'`, `export … from 'm'` and the bare side-effect form `import 'm'`
  for (const m of code.matchAll(/(?:\bfrom\s+|\bimport\s+)['"]([^'"]+)['"]/g)) {
    const spec = m[1];
    if (!spec.startsWith('.')) {
      out.push(`imports "${spec}"`);
      continue;
    }
    const target = resolve(dirname(file), spec);
    if (!PROTOCOL_DIRS.some((d) => target.startsWith(d + '/')) && !target.startsWith(CONTRACT + '/')) out.push(`imports ${relative(ROOT, target)}`);
  }
  for (const re of FORBIDDEN) if (re.test(code)) out.push(`uses ${re.source}`);
  return out;
}

describe('sans-I/O contract', () => {
  const files = PROTOCOL_DIRS.flatMap(tsFiles);

  it('finds the protocol sources', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it.each(files.map((f) => [relative(ROOT, f), f]))('%s imports only the contract and uses no clock, timer or global randomness', (_name, file) => {
    expect(violations(file)).toEqual([]);
  });

  it('the checker catches a protocol that reads the clock, draws Math.random or imports a runtime', () => {
    const file = join(PROTOCOLS, 'bad/index.ts');
    const src = [
      "import { readFileSync } from 'node:fs';",
      "import { Simulation } from '../../src/sim/simulation.ts';",
      "import type { NodeId } from '../../src/contract/protocol.ts';",
      'export const t = Date.now() + Math.random();',
    ].join('\n');
    expect(violations(file, src)).toEqual(['imports "node:fs"', 'imports src/sim/simulation.ts', 'uses \\bDate\\b', 'uses \\bMath\\.random\\b']);
  });

  // each way a protocol could reach the process, the clock or the OS, caught on its own
  it.each([
    ["import 'node:fs';", 'imports "node:fs"'],
    ['import "crypto";', 'imports "crypto"'],
    ["export { x } from 'node:os';", 'imports "node:os"'],
    ['const id = crypto.randomUUID();', 'uses \\bcrypto\\b'],
    ["console.log('tick');", 'uses \\bconsole\\b'],
    ["const b = Buffer.from('x');", 'uses \\bBuffer\\b'],
    ['const g = globalThis.process;', 'uses \\bglobalThis\\b'],
    ["await fetch('http://127.0.0.1/');", 'uses \\bfetch\\('],
    ['const ws = new WebSocket(url);', 'uses \\bWebSocket\\b'],
    ['queueMicrotask(f);', 'uses \\bsetTimeout\\b|\\bsetInterval\\b|\\bsetImmediate\\b|\\bqueueMicrotask\\b'],
  ])('the checker catches %s', (src, expected) => {
    expect(violations(join(PROTOCOLS, 'bad/index.ts'), src)).toContain(expected);
  });
});
