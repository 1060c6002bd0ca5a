/**
 * Real node hosts on namespace hosts, talking over the run's bridge: three nodes of a protocol
 * on two hosts (two on h0, one on h1), each listening on its host's address and dialling peers by
 * theirs. An nftables partition between the hosts stops the cross-host traffic (kernel-level: the
 * protocol's TCP connections stall, nothing in the transport drops it) while same-host traffic
 * goes on; heal lets it resume. Needs root and namespaces; skipped with the reason otherwise.
 */
import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resolveRun } from '../src/harness/run-config.ts';
import type { RemoteNode } from '../src/live/agent-client.ts';
import { buildBundles } from '../src/live/bundle.ts';
import type { FromNode, NodeStats, ToNode } from '../src/live/ipc.ts';
import { netnsUnavailableReason } from '../src/live/netns.ts';
import { Placement } from '../src/live/placement.ts';
import { newRunToken } from '../src/live/transport.ts';


const reason = await netnsUnavailableReason();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const N = 3;
const SHARDS = 8;

describe.skipIf(reason !== null)(`nodes on namespace hosts${reason ? ` — skipped: ${reason}` : ''}`, () => {
  it.each(['async-multiplexed', 'swim', 'thread-per-peer'])('%s: nodes on two hosts exchange messages over the bridge; a partition stops only the cross-host traffic; heal resumes it', async (protocol) => {
    const cfg = resolveRun({ protocol, scenario: 'steady', nodes: N });
    const bundles = await buildBundles(cfg.protocol);
    const p = await Placement.open({ kind: 'netns', hosts: 2 }, bundles);
    const token = newRunToken();
    try {
      const nodes: RemoteNode[] = [];
      const stats = new Map<number, (s: NodeStats) => void>();
      const ports = await Promise.all(
        Array.from({ length: N }, async (_, id) => {
          const n = await p.fork(id);
          nodes[id] = n;
          return new Promise<number>((res, rej) => {
            n.on('message', (m: FromNode) => {
              if (m.k === 'listening') res(m.port);
              else if (m.k === 'stats') stats.get(id)?.(m);
              else if (m.k === 'fatal') rej(new Error(`node ${id}: ${m.error}`));
            });
            n.on('exit', (c, s) => rej(new Error(`node ${id} exited (${c ?? s})`)));
            const init: ToNode = {
              k: 'init', id, transport: 'ws', uwsBinary: null, workerBundle: p.workerBundleUrl(p.hostOf(id)), params: cfg.params, seed: 1,
              threadsPerNode: cfg.limits.threadsPerNode, fdsPerNode: cfg.limits.fdsPerNode, cgroup: null, statsEveryMs: 60_000,
              bindHost: p.hosts[p.hostOf(id)].address,
              // without it each node derives a token from its parent's pid: nodes under different agents would refuse each other
              token,
            };
            n.send(init);
          });
        }),
      );
      expect(nodes.map((n) => p.hostOf(n.id))).toEqual([0, 1, 0]);
      const hosts: Array<[number, string]> = nodes.map((n) => [n.id, p.hosts[p.hostOf(n.id)].address]);
      const t0Epoch = performance.timeOrigin + performance.now();
      for (const n of nodes) {
        n.send({ k: 'hosts', entries: hosts } satisfies ToNode);
        n.send({ k: 'addrs', entries: ports.map((port, id) => [id, port]) } satisfies ToNode);
        n.send({
          k: 'start',
          boot: { self: n.id, joining: false, members: [0, 1, 2], shards: SHARDS, shardCluster: new Int32Array(SHARDS), shardVersion: new Uint32Array(SHARDS) },
          t0Epoch,
          membership: [0, 1, 2],
        } satisfies ToNode);
      }
      const received = () =>
        Promise.all(
          nodes.map(
            (n) =>
              new Promise<number>((res) => {
                stats.set(n.id, (s) => res(s.received));
                n.send({ k: 'statsNow' } satisfies ToNode);
              }),
          ),
        );
      const until = async (ok: (r: number[]) => boolean, ms: number) => {
        let r = await received();
        for (let t = 0; t < ms && !ok(r); t += 250) {
          await sleep(250);
          r = await received();
        }
        return r;
      };
      // every node hears from its peers, node 1 only across the bridge
      const before = await until((r) => r.every((x) => x > 0), 15_000);
      expect(before.every((x) => x > 0), `received ${before}`).toBe(true);

      const desc = await p.netns!.partition([[0], [1]]);
      expect(desc).toMatch(/nftables/);
      await sleep(500); // what was already on the wire lands
      const cut = await received();
      await sleep(2500);
      const during = await received();
      expect(during[1] - cut[1]).toBe(0); // node 1 is alone on h1: nothing reaches it
      expect(during[0] - cut[0]).toBeGreaterThan(0); // nodes 0 and 2 share h0 and go on

      await p.netns!.heal();
      const after = await until((r) => r[1] > during[1], 15_000);
      expect(after[1]).toBeGreaterThan(during[1]);
    } finally {
      await p.close();
      rmSync(bundles.dir, { recursive: true, force: true });
    }
  }, 120_000);
});
