/**
 * Placing nodes through host agents: `netns:2` puts agents in two namespace hosts and nodes
 * round robin over them (each node really runs inside its host's namespace); `agents:FILE`
 * reaches agents already running. Closing, or SIGKILLing the coordinator, leaves no process,
 * namespace, link or rule behind.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveRun } from '../src/harness/run-config.ts';
import type { RemoteNode } from '../src/live/agent-client.ts';
import { buildBundles, type Bundles } from '../src/live/bundle.ts';
import { startHostAgent, type HostAgent } from '../src/live/host-agent.ts';
import { HOSTS_SCHEMA, parseHostsSpec } from '../src/live/hosts.ts';
import type { FromNode } from '../src/live/ipc.ts';
import { netnsUnavailableReason, runLeftovers } from '../src/live/netns.ts';
import { names, startTime } from '../src/live/netns-sweep.mjs';
import { Placement } from '../src/live/placement.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cfg = resolveRun({ protocol: 'async-multiplexed', scenario: 'steady' });
const reason = await netnsUnavailableReason();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const gone = (pid: number) => startTime(pid) === null;
async function allGone(pids: number[]): Promise<number[]> {
  for (let i = 0; i < 100 && !pids.every(gone); i++) await sleep(100);
  return pids.filter((p) => !gone(p));
}

function listen(p: Placement, n: RemoteNode): Promise<number> {
  return new Promise((res, rej) => {
    n.on('message', (m: FromNode) => m.k === 'listening' && res(m.port));
    n.on('exit', (c, s) => rej(new Error(`node ${n.id} exited (${c ?? s})`)));
    n.send({ k: 'init', id: n.id, transport: 'ws', uwsBinary: null, workerBundle: p.workerBundleUrl(p.hostOf(n.id)), params: cfg.params, seed: 1, threadsPerNode: 64, fdsPerNode: 1000, cgroup: null, statsEveryMs: 2000 });
  });
}

describe('placement through host agents', () => {
  let bundles: Bundles;
  beforeAll(async () => {
    bundles = await buildBundles(cfg.protocol);
  }, 60_000);
  afterAll(() => bundles && rmSync(bundles.dir, { recursive: true, force: true }));

  it('agents:FILE places nodes round robin on the listed agents', async () => {
    const token = 'placement-test-token';
    const agents: HostAgent[] = [await startHostAgent({ bind: '127.0.0.1', token }), await startHostAgent({ bind: '127.0.0.1', token })];
    const dir = mkdtempSync(join(tmpdir(), 'fleetbench-hosts-'));
    process.env.FB_TEST_TOKEN = token;
    try {
      writeFileSync(join(dir, 'hosts.json'), JSON.stringify({ schema: HOSTS_SCHEMA, agents: agents.map((a) => ({ host: '127.0.0.1', port: a.port })), tokenEnv: 'FB_TEST_TOKEN' }));
      const p = await Placement.open(parseHostsSpec(`agents:${join(dir, 'hosts.json')}`), bundles);
      const nodes = await Promise.all([0, 1, 2].map((id) => p.fork(id)));
      expect(nodes.map((n) => p.hostOf(n.id))).toEqual([0, 1, 0]);
      expect(p.hosts.map((h) => h.bundleDir)).not.toContain(bundles.dir); // each agent has its own copy
      for (const n of nodes) expect(await listen(p, n)).toBeGreaterThan(0);
      const s = await p.sample([0, 1, 2]);
      expect([...s.values()].every((x) => x !== null && x.rssBytes > 0)).toBe(true);
      await p.close();
      expect(await allGone(nodes.map((n) => n.pid!))).toEqual([]);
    } finally {
      delete process.env.FB_TEST_TOKEN;
      await Promise.all(agents.map((a) => a.close()));
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('agents:FILE without the token in the environment is refused naming the variable', async () => {
    await expect(Placement.open({ kind: 'agents', file: 'hosts.json', agents: [{ host: '127.0.0.1', port: 1 }], tokenEnv: 'FB_NO_SUCH_TOKEN' }, bundles)).rejects.toThrow(/FB_NO_SUCH_TOKEN/);
  });

  describe.skipIf(reason !== null)(`netns:K${reason ? ` — skipped: ${reason}` : ''}`, () => {
    it('puts one agent in each namespace and each node inside its host\'s namespace; close leaves nothing', async () => {
      const p = await Placement.open({ kind: 'netns', hosts: 2 }, bundles);
      const runId = p.netns!.runId;
      let pids: number[] = [];
      try {
        const nodes = await Promise.all([0, 1, 2, 3].map((id) => p.fork(id)));
        for (const n of nodes) expect(await listen(p, n)).toBeGreaterThan(0);
        pids = [...nodes.map((n) => n.pid!), ...p.hosts.map((h) => h.info.pid)];
        for (const n of nodes) {
          const ns = execFileSync('ip', ['netns', 'identify', String(n.pid)], { encoding: 'utf8' }).trim();
          expect(ns).toBe(p.netns!.hosts[p.hostOf(n.id)].name);
        }
        expect(p.hosts.map((h) => h.address)).toEqual(p.netns!.hosts.map((h) => h.address));
        expect(readdirSync(names(runId).workDir).length).toBe(2); // each agent's copy of the bundle, in the run's work dir
      } finally {
        await p.close();
      }
      expect(await allGone(pids)).toEqual([]);
      expect(runLeftovers(runId)).toEqual({ namespaces: [], links: [], tables: [] });
      expect(existsSync(names(runId).workDir)).toBe(false);
    }, 60_000);

    it('a SIGKILLed coordinator leaves no node, agent, namespace, link or rule', async () => {
      const owner = spawn(process.execPath, ['--import', 'tsx', resolve(ROOT, 'src/live/fixtures/placement-owner.ts')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
      const info = await new Promise<{ runId: string; nodePids: number[]; agentPids: number[]; bundleDir: string }>((res, rej) => {
        let buf = '';
        owner.stdout!.on('data', (d: Buffer) => {
          buf += d.toString();
          const line = buf.split('\n').find((l) => l.startsWith('{'));
          if (line) res(JSON.parse(line));
        });
        owner.once('exit', (code) => rej(new Error(`owner exited early (${code})`)));
      });
      try {
        expect([...info.nodePids, ...info.agentPids].every((p) => !gone(p))).toBe(true);
        owner.kill('SIGKILL');
        expect(await allGone([...info.nodePids, ...info.agentPids])).toEqual([]);
        let left = runLeftovers(info.runId);
        for (let i = 0; i < 100 && left.namespaces.length + left.links.length + left.tables.length > 0; i++) {
          await sleep(100);
          left = runLeftovers(info.runId);
        }
        expect(left).toEqual({ namespaces: [], links: [], tables: [] });
        // the watchdog removes the run's directory last, after the namespaces: give it the same time
        for (let i = 0; i < 100 && existsSync(names(info.runId).workDir); i++) await sleep(100);
        expect(existsSync(names(info.runId).workDir)).toBe(false);
      } finally {
        owner.kill('SIGKILL');
        rmSync(info.bundleDir, { recursive: true, force: true });
      }
    }, 90_000);
  });
});
