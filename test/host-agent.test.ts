/**
 * The host agent: its wire carries what 'advanced' IPC carries; it forks a real node (the run's
 * bundle, shipped over the connection) and relays its IPC; it refuses a wrong token; it kills its
 * nodes when the coordinator's connection drops. On 127.0.0.1 always; inside a network namespace
 * host (reached over the run's bridge) when this machine allows namespaces.
 */
import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, resolve } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveRun } from '../src/harness/run-config.ts';
import { AgentConnection } from '../src/live/agent-client.ts';
import { decode, encode, frame, type ToAgent } from '../src/live/agent-wire.ts';
import { buildBundles, type Bundles } from '../src/live/bundle.ts';
import { startHostAgent, TOKEN_ENV, type HostAgent } from '../src/live/host-agent.ts';
import type { FromNode, NodeInit } from '../src/live/ipc.ts';
import { NetnsHosts, netnsUnavailableReason } from '../src/live/netns.ts';
import { startTime } from '../src/live/netns-sweep.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TOKEN = 'test-run-token-0123456789abcdef';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const gone = (pid: number) => startTime(pid) === null;
const cfg = resolveRun({ protocol: 'async-multiplexed', scenario: 'steady' });
const reason = await netnsUnavailableReason();

function init(id: number, agentDir: string): NodeInit {
  return {
    k: 'init',
    id,
    transport: 'ws',
    uwsBinary: null,
    workerBundle: pathToFileURL(resolve(agentDir, 'worker.mjs')).href,
    params: cfg.params,
    seed: cfg.seed,
    threadsPerNode: cfg.limits.threadsPerNode,
    fdsPerNode: cfg.limits.fdsPerNode,
    cgroup: null,
    statsEveryMs: 2000,
  };
}

/** Forks node 0 through the agent, waits for its 'listening', then drops the connection. */
async function forkOneNode(host: string, port: number, bundles: Bundles): Promise<{ listening: Extract<FromNode, { k: 'listening' }>; pid: number }> {
  const conn = await AgentConnection.connect({ host, port, token: TOKEN });
  expect(conn.host.address).toBe(host);
  const dir = await conn.shipBundle(bundles.dir);
  const node = await conn.fork(0, 'node.mjs');
  const listening = new Promise<Extract<FromNode, { k: 'listening' }>>((res, rej) => {
    node.on('message', (m: FromNode) => m.k === 'listening' && res(m));
    node.on('exit', (code, sig) => rej(new Error(`node exited (${code ?? sig})`)));
  });
  node.send(init(0, dir));
  const m = await listening;
  const pid = node.pid!;
  expect(gone(pid)).toBe(false);
  // the agent reads /proc on its host: a live node has memory, threads and fds; an unknown id is null
  const s = await conn.sample([0, 99]);
  expect(s.get(0)!.rssBytes).toBeGreaterThan(0);
  expect(s.get(0)!.threads).toBeGreaterThanOrEqual(m.baseThreads);
  expect(s.get(0)!.fds).toBeGreaterThan(0);
  expect(s.get(99)).toBeNull();
  await conn.close();
  return { listening: m, pid };
}

async function refused(host: string, port: number, token: string): Promise<string> {
  try {
    await AgentConnection.connect({ host, port, token, timeoutMs: 5000 });
    return 'accepted';
  } catch (e) {
    return (e as Error).message;
  }
}

async function waitGone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100 && !gone(pid); i++) await sleep(50);
  return gone(pid);
}

describe('host agent wire', () => {
  it.each([
    ['Int32Array', new Int32Array([1, -2, 3])],
    ['Uint32Array', new Uint32Array([4294967295, 0, 7])],
    ['nested boot message', { k: 'start', boot: { shardCluster: new Int32Array([0, 1]), shardVersion: new Uint32Array([1, 1]) }, membership: [0, 1, 2] }],
  ])('a frame carries a %s as it is', (_name, msg) => {
    const m: ToAgent = { k: 'send', id: 3, msg };
    const out = decode<ToAgent & { k: 'send' }>(encode(m).subarray(4));
    expect(out).toEqual(m);
    if (ArrayBuffer.isView(msg)) expect((out.msg as object).constructor).toBe(msg.constructor);
  });
});

describe('host agent', () => {
  let bundles: Bundles;
  beforeAll(async () => {
    bundles = await buildBundles(cfg.protocol);
  }, 60_000);
  afterAll(() => {
    if (bundles) rmSync(bundles.dir, { recursive: true, force: true });
  });

  describe('on 127.0.0.1', () => {
    let agent: HostAgent;
    beforeAll(async () => {
      agent = await startHostAgent({ bind: '127.0.0.1', token: TOKEN });
    });
    afterAll(async () => agent?.close());

    it('binds only the address it is given', () => {
      expect(agent.address).toBe('127.0.0.1');
    });

    it('forks a node from the shipped bundle, relays its listening message, and kills it when the coordinator disconnects', async () => {
      const { listening, pid } = await forkOneNode('127.0.0.1', agent.port, bundles);
      expect(listening.port).toBeGreaterThan(0);
      expect(listening.baseThreads).toBeGreaterThan(0);
      expect(await waitGone(pid)).toBe(true);
    }, 60_000);

    it.each([
      ['a wrong token', 'not-the-token'],
      ['an empty token', ''],
      ['a token with one character changed', TOKEN.slice(0, -1) + 'x'],
    ])('refuses %s, and still serves the right one', async (_what, token) => {
      expect(await refused('127.0.0.1', agent.port, token)).toMatch(/refused the connection: wrong run token/);
      const ok = await AgentConnection.connect({ host: '127.0.0.1', port: agent.port, token: TOKEN });
      await ok.close();
    });

    it('closes a connection whose first frame is larger than any token, before reading it', async () => {
      const closed = await new Promise<boolean>((res) => {
        const s = connect({ host: '127.0.0.1', port: agent.port }, () => s.write(frame(Buffer.alloc(64 * 1024, 1))));
        s.on('error', () => {});
        s.on('close', () => res(true));
        setTimeout(() => res(false), 5000);
      });
      expect(closed).toBe(true);
    });
  });

  describe.skipIf(reason !== null)(`in a network namespace host${reason ? ` — skipped: ${reason}` : ''}`, () => {
    let hosts: NetnsHosts;
    beforeAll(async () => {
      hosts = await NetnsHosts.create(1);
    }, 30_000);
    afterAll(async () => hosts?.teardown(), 30_000);

    it('an agent started with ip netns exec, reached over the bridge, forks a node, refuses a wrong token, and exits with its nodes when the coordinator goes', async () => {
      const addr = hosts.hosts[0].address;
      const agent = hosts.spawnIn(0, process.execPath, ['--import', 'tsx', resolve(ROOT, 'src/live/host-agent.ts'), '--bind', addr, '--once'], {
        cwd: ROOT,
        env: { ...process.env, [TOKEN_ENV]: TOKEN },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const exited = new Promise<void>((r) => agent.once('exit', () => r()));
      const info = await new Promise<{ agent: { address: string; port: number; pid: number } }>((res, rej) => {
        let buf = '';
        agent.stdout!.on('data', (d: Buffer) => {
          buf += d.toString();
          const line = buf.split('\n').find((l) => l.startsWith('{'));
          if (line) res(JSON.parse(line));
        });
        agent.once('exit', (c) => rej(new Error(`agent exited early (${c})`)));
      });
      expect(info.agent.address).toBe(addr);
      expect(await refused(addr, info.agent.port, 'wrong')).toMatch(/wrong run token/);
      const { listening, pid } = await forkOneNode(addr, info.agent.port, bundles);
      expect(listening.port).toBeGreaterThan(0);
      expect(await waitGone(pid)).toBe(true);
      await Promise.race([exited, sleep(10_000)]);
      expect(agent.exitCode).toBe(0);
    }, 60_000);
  });
});
