/**
 * The CI sweep workflow (.github/workflows/sweep.yml): it parses, its matrix comes from the plan
 * job's shard list, and its own step scripts — plan, one sweep per shard, merge, report, compare —
 * run here on a small grid (two shards on this machine instead of two runners); the merged
 * results equal an unsharded sweep's, file for file, and `fleetbench compare` finds no change.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readResult } from '../src/results/schema.ts';
import { deterministicPart } from './helpers.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

interface Step {
  name?: string;
  id?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
}
interface Job {
  needs?: string | string[];
  outputs?: Record<string, string>;
  strategy?: { 'fail-fast'?: boolean; matrix: Record<string, unknown> };
  steps: Step[];
}
interface Workflow {
  on: { workflow_dispatch: { inputs: Record<string, { default: string }> }; schedule?: unknown };
  permissions: Record<string, string>;
  env: Record<string, string>;
  jobs: Record<string, Job>;
}

const wf = parse(readFileSync(resolve(ROOT, '.github/workflows/sweep.yml'), 'utf8')) as Workflow;
const step = (job: string, name: string) => {
  const s = wf.jobs[job].steps.find((x) => x.name === name);
  if (!s?.run) throw new Error(`no step "${name}" with a script in job ${job}`);
  return s;
};

/** Replaces the `${{ … }}` expressions a step uses; an expression the test does not know fails it. */
function expand(script: string, values: Record<string, string>): string {
  return script.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_m, expr: string) => {
    if (!(expr in values)) throw new Error(`unexpected expression in a step script: ${expr}`);
    return values[expr];
  });
}

describe('CI sweep workflow: shape', () => {
  it('shards the sweep over a matrix built from the plan job, then merges after every shard', () => {
    expect(wf.permissions).toEqual({ contents: 'read' });
    expect(wf.jobs.plan.outputs).toEqual({ n: '${{ steps.plan.outputs.n }}', shards: '${{ steps.plan.outputs.shards }}' });
    expect(wf.jobs.shard.needs).toBe('plan');
    expect(wf.jobs.shard.strategy).toEqual({ 'fail-fast': false, matrix: { shard: '${{ fromJSON(needs.plan.outputs.shards) }}' } });
    const run = step('shard', 'sweep shard').run!;
    expect(run).toContain('--shard "${{ matrix.shard }}/${{ needs.plan.outputs.n }}"');
    expect(run).toMatch(/fleetbench\.mjs sweep /);
    const upload = wf.jobs.shard.steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'));
    expect(upload?.with?.name).toBe('sweep-part-${{ matrix.shard }}');
    expect(wf.jobs.merge.needs).toEqual(['plan', 'shard']);
    const download = wf.jobs.merge.steps.find((s) => s.uses?.startsWith('actions/download-artifact@'));
    expect(download?.with).toEqual({ pattern: 'sweep-part-*', path: 'results/runs/parts' });
    expect(step('merge', 'merge').run).toContain('merge results/runs/parts/sweep-part-* --out results/runs/sweep');
    expect(step('merge', 'report').run).toContain('GITHUB_STEP_SUMMARY');
    expect(step('merge', 'compare with the baseline').run).toContain('compare "$BASELINE" results/runs/sweep');
    const published = wf.jobs.merge.steps.find((s) => s.with?.name === 'sweep-report');
    expect(String(published?.with?.path)).toMatch(/sweep-report\/[\s\S]*sweep-compare\.md/);
  });

  it('the scheduled run uses the same defaults as the manual one', () => {
    const inputs = wf.on.workflow_dispatch.inputs;
    for (const [env, input] of [['PROTOCOLS', 'protocols'], ['NODES', 'nodes'], ['SCENARIO', 'scenario'], ['REPEAT', 'repeat'], ['DURATION', 'duration'], ['SHARDS', 'shards'], ['BASELINE', 'baseline']]) {
      expect(wf.env[env]).toBe(`\${{ inputs.${input} || '${inputs[input].default}' }}`);
    }
  });

  it('no step splices an input into its script', () => {
    for (const job of Object.values(wf.jobs)) for (const s of job.steps) expect(s.run ?? '').not.toMatch(/\$\{\{\s*(inputs|github\.event)\./);
  });
});

describe('CI sweep workflow: its steps, run here', () => {
  const work = mkdtempSync(join(tmpdir(), 'fleetbench-ci-sweep-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const resultFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'sweep.json').sort();

  it('two shards, merged, equal the unsharded sweep', () => {
    // a checkout as the runner sees it: the scripts call bin/fleetbench.mjs and write results/runs/
    symlinkSync(resolve(ROOT, 'bin'), join(work, 'bin'));
    const summary = join(work, 'summary.md');
    const output = join(work, 'output');
    writeFileSync(summary, '');
    writeFileSync(output, '');
    const env = {
      ...process.env,
      PROTOCOLS: 'swim,async-multiplexed',
      NODES: '10,20',
      SCENARIO: 'steady',
      REPEAT: '2',
      DURATION: '1s',
      SHARDS: '2',
      BASELINE: 'results/runs/whole',
      GITHUB_OUTPUT: output,
      GITHUB_STEP_SUMMARY: summary,
    };
    // GitHub's default shell for run steps
    const bash = (script: string) => execFileSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], { cwd: work, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

    bash(step('plan', 'shard list').run!);
    const outs = Object.fromEntries(readFileSync(output, 'utf8').trim().split('\n').map((l) => l.split('=') as [string, string]));
    expect(outs).toEqual({ n: '2', shards: '[1,2]' });

    for (const shard of JSON.parse(outs.shards) as number[]) {
      bash(expand(step('shard', 'sweep shard').run!, { 'matrix.shard': String(shard), 'needs.plan.outputs.n': outs.n }));
      // what upload-artifact + download-artifact (pattern, no merge-multiple) leave on the merge runner
      const to = join(work, 'results/runs/parts', `sweep-part-${shard}`);
      mkdirSync(to, { recursive: true });
      cpSync(join(work, `results/runs/part-${shard}`), to, { recursive: true });
    }
    const parts = [1, 2].map((i) => resultFiles(join(work, `results/runs/part-${i}`)));
    expect(parts[0].length + parts[1].length).toBe(8); // 2 protocols × 2 sizes × 2 seeds
    expect(parts[0].filter((f) => parts[1].includes(f))).toEqual([]);

    // the unsharded sweep, as one machine would run it (also the compare step's baseline here)
    bash('node bin/fleetbench.mjs sweep --protocols "$PROTOCOLS" --nodes "$NODES" --scenario "$SCENARIO" --repeat "$REPEAT" --duration "$DURATION" --seed 1 --quiet --out results/runs/whole');

    bash(step('merge', 'merge').run!);
    bash(step('merge', 'report').run!);
    bash(step('merge', 'compare with the baseline').run!);

    const merged = join(work, 'results/runs/sweep');
    const whole = join(work, 'results/runs/whole');
    expect(resultFiles(merged)).toEqual(resultFiles(whole));
    for (const f of resultFiles(whole)) expect(deterministicPart(readResult(join(merged, f))), f).toEqual(deterministicPart(readResult(join(whole, f))));
    // and the comparison the workflow publishes says so: every deterministic figure unchanged
    execFileSync(process.execPath, ['bin/fleetbench.mjs', 'compare', whole, merged, '--fail-on-change'], { cwd: work, stdio: 'ignore' });
    const md = readFileSync(summary, 'utf8');
    expect(md).toContain('### Sweep vs results/runs/whole');
    expect(readFileSync(join(work, 'results/runs/sweep-report/report.md'), 'utf8').length).toBeGreaterThan(0);
  }, 240_000);
});
