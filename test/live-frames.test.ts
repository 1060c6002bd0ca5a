// A live run survives its network (issue 15, audit 5): any local process can connect to a node's
// port, so strangers' hellos and undecodable frames must be counted and dropped, never end the
// run. One small run (4 nodes, 5 s) with a bounded number of hostile connections per node, all on
// loopback; every connection is closed before the test ends.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import { resolveRun } from '../src/harness/run-config.ts';
import { parseScenario } from '../src/harness/scenario.ts';
import { runLive } from '../src/live/coordinator.ts';
import { HELLO_PEER, helloFrame, tokenBytes } from '../src/live/transport.ts';
import { ResultSchema } from '../src/results/schema.ts';

/** TCP ports a process listens on (its socket inodes matched against /proc/net/tcp). */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      /* closed meanwhile */
    }
  }
  const ports: number[] = [];
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length > 9 && f[3] === '0A' && inodes.has(f[9])) ports.push(parseInt(f[1].split(':')[1], 16));
  }
  return ports;
}

/** Opens a connection, sends the frames, waits until the node hangs up or a short while passes. */
function hostile(port: number, frames: Uint8Array[]): Promise<void> {
  return new Promise((res) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    const done = () => {
      ws.terminate();
      res();
    };
    const timer = setTimeout(done, 2000);
    ws.on('open', () => {
      for (const f of frames) ws.send(f, { binary: true });
    });
    ws.on('error', () => {});
    ws.on('close', () => {
      clearTimeout(timer);
      done();
    });
  });
}

const AUDIT_HELLO = new Uint8Array([1, 3, 0, 0, 0]);
const GARBAGE = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
/** strangers per node, each sending the audit's hello and then garbage (the node hangs up after the hello) */
const CONNECTIONS_PER_NODE = 100;
const FRAMES_PER_CONNECTION = 10;
/** undecodable frames per node after a hello with the token */
const MALFORMED_PER_NODE = 1000;

describe('a live node shrugs off bad frames', () => {
  it("the audit's hello and garbage, unauthenticated and authenticated, do not end the run", async () => {
    const scenario = parseScenario({ name: 'live-frames', nodes: 4, durationMs: 5000 }, 'live-frames');
    const cfg = resolveRun({ protocol: 'async-multiplexed', scenario, nodes: 4 });
    let attacks: Promise<void>[] = [];
    const r = await runLive(cfg, {
      transport: 'ws',
      cgroups: false,
      onStarted: ({ pids, token: hex }) => {
        // the run's own token (a process that learned it): its frames get past the hello
        const token = tokenBytes(hex);
        const ports = pids.flatMap((pid) => {
          try {
            return listeningPorts(pid);
          } catch {
            return [];
          }
        });
        expect(ports.length).toBeGreaterThanOrEqual(4);
        attacks = ports.flatMap((port) => [
          // strangers: the audit's 5-byte hello, then garbage
          ...Array.from({ length: CONNECTIONS_PER_NODE }, () => hostile(port, [AUDIT_HELLO, ...Array(FRAMES_PER_CONNECTION).fill(GARBAGE)])),
          // a process that knows the token but speaks garbage: every frame fails to decode
          hostile(port, [helloFrame(HELLO_PEER, 3, token), ...Array(MALFORMED_PER_NODE).fill(GARBAGE)]),
        ]);
      },
    });
    await Promise.all(attacks);
    ResultSchema.parse(r);
    expect(r.run.completed).toBe(true);
    expect(r.summary.membership.viewAccuracy).toBe(1);
    // counted per node: each stranger's hello, and the first undecodable frame behind the run's
    // token — a node closes a connection at its first bad frame, so the rest never reach it
    const booted = r.live!.nodes.filter((n) => n.startedAtMs !== null);
    expect(booted).toHaveLength(4);
    for (const n of booted) expect(n.badFrames).toBeGreaterThanOrEqual(CONNECTIONS_PER_NODE + 1);
  }, 60_000);
});
