// Ctrl-C at any moment of a live run — while it bundles, forks, warms up or runs — gives a partial
// result (run.completed false, never healthy) and exit code 130. The signal goes to the whole
// process group, as a terminal sends it.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { readResult } from '../src/results/schema.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(join(tmpdir(), 'fleetbench-interrupt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Ctrl-C during a live run', () => {
  it.each([500, 1000, 2000, 5000])('at %i ms after it starts: a partial result and exit 130', async (afterMs) => {
    const out = join(dir, `r${afterMs}.json`);
    const child = spawn(process.execPath, [join(ROOT, 'bin/fleetbench.mjs'), 'run', '--runtime', 'live', '--transport', 'ws', '-p', 'async-multiplexed', '-s', 'steady', '-n', '4', '-d', '30s', '--out', out], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, as a shell gives a foreground job
    });
    let err = '';
    // the CLI says when the run has started (no terminal, so no progress bar)
    await new Promise<void>((started) =>
      child.stderr!.on('data', (d) => {
        err += String(d);
        if (/^run: /m.test(err)) started();
      }),
    );
    await new Promise((r) => setTimeout(r, afterMs));
    process.kill(-child.pid!, 'SIGINT');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code, err).toBe(130);
    expect(existsSync(out)).toBe(true);
    const r = readResult(out);
    expect(r.run.completed).toBe(false);
    expect(r.summary.healthy).toBe(false);
    expect(r.run.simulatedMs).toBeLessThan(30_000);
  }, 90_000);
});
