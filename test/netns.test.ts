/**
 * Hosts as network namespaces: reachability, kernel faults (tc netem, nftables), and cleanup
 * after teardown, after the owner is SIGKILLed, and by the leftover sweep. Needs root, iproute2
 * and nftables; skipped with the reason otherwise. Every address used is one this file's runs
 * create (198.18.0.0/15); nothing else is contacted.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetnsHosts, netemUnavailableReason, netnsRuns, netnsUnavailableReason, runLeftovers, sweepLeftovers } from '../src/live/netns.ts';
import { STATE_DIR, names, startTime } from '../src/live/netns-sweep.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RTT = resolve(ROOT, 'src/live/fixtures/netns-rtt.mjs');
const reason = await netnsUnavailableReason();
const noNetem = reason ? reason : await netemUnavailableReason();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Everything the kernel shows that carries this run's names, from the plain listings. */
function kernelMentions(id: string): string[] {
  const n = names(id);
  const out: string[] = [];
  const text = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8' });
    } catch {
      return '';
    }
  };
  for (const [what, listing] of [
    ['ip netns list', text('ip', ['netns', 'list'])],
    ['ip link', text('ip', ['link'])],
    ['tc qdisc', text('tc', ['qdisc', 'show'])],
    ['nft list ruleset', text('nft', ['list', 'ruleset'])],
  ] as const) {
    for (const needle of [n.prefix, n.bridge, `fb${id}`, n.table]) if (listing.includes(needle)) out.push(`${what}: ${needle}`);
  }
  return out;
}

function pings(hosts: NetnsHosts, from: number, to: string): boolean {
  try {
    execFileSync('ip', ['netns', 'exec', hosts.hosts[from].name, 'ping', '-c', '1', '-W', '1', '-q', to], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(reason !== null)(`network namespaces as hosts${reason ? ` — skipped: ${reason}` : ''}`, () => {
  let hosts: NetnsHosts;
  const procs: ChildProcess[] = [];
  beforeAll(async () => {
    hosts = await NetnsHosts.create(4);
  }, 30_000);
  afterAll(async () => {
    for (const p of procs) p.kill('SIGKILL');
    await hosts?.teardown();
  }, 30_000);

  /** median TCP round trip from host a to an echo server on host b */
  async function rtt(a: number, b: number): Promise<number> {
    const server = hosts.spawnIn(b, process.execPath, [RTT, 'server', hosts.hosts[b].address], { stdio: ['ignore', 'pipe', 'inherit'] });
    procs.push(server);
    const port = await new Promise<string>((res, rej) => {
      server.stdout!.once('data', (d: Buffer) => res(d.toString().trim()));
      server.once('exit', (c) => rej(new Error(`echo server exited (${c})`)));
    });
    try {
      const out = await hosts.execIn(a, process.execPath, [RTT, 'client', hosts.hosts[b].address, port, '15']);
      return (JSON.parse(out) as { medianMs: number }).medianMs;
    } finally {
      server.kill('SIGKILL');
    }
  }

  it('every host reaches every other by its 198.18 address, and none has a default route', () => {
    const addrs = hosts.hosts.map((h) => h.address);
    for (const a of addrs) expect(a).toMatch(/^198\.(18|19)\.\d+\.\d+$/);
    expect(new Set(addrs).size).toBe(4);
    for (const h of hosts.hosts) {
      for (const o of hosts.hosts) if (o !== h) expect(pings(hosts, h.index, o.address), `${h.name} → ${o.address}`).toBe(true);
      expect(pings(hosts, h.index, hosts.bridgeAddress)).toBe(true);
      const routes = execFileSync('ip', ['-n', h.name, 'route', 'show'], { encoding: 'utf8' });
      expect(routes).not.toMatch(/default/);
      expect(execFileSync('ip', ['-n', h.name, 'link', 'show', 'lo'], { encoding: 'utf8' })).toMatch(/UP/);
    }
  }, 60_000);

  it.skipIf(noNetem !== null)(`netem 50 ms one-way on both directions of one link raises its TCP round trip by 100 ms ± 10 %, and only that link${noNetem ? ` — skipped: ${noNetem}` : ''}`, async () => {
    const before01 = await rtt(0, 1);
    const before02 = await rtt(0, 2);
    const d1 = await hosts.netem(0, 1, { delayMs: 50 });
    const d2 = await hosts.netem(1, 0, { delayMs: 50 });
    expect(d1).toMatch(/tc netem delay 50ms loss 0% on fb-\w+-h0 → fb-\w+-h1/);
    expect(d2).toMatch(/h1 → fb-\w+-h0/);
    const after01 = await rtt(0, 1);
    const after02 = await rtt(0, 2);
    expect(after01 - before01).toBeGreaterThanOrEqual(90);
    expect(after01 - before01).toBeLessThanOrEqual(110);
    expect(after02 - before02).toBeLessThan(10); // the other link is untouched
    await hosts.clearNetem(0, 1);
    await hosts.clearNetem(1, 0);
    expect((await rtt(0, 1)) - before01).toBeLessThan(10);
  }, 60_000);

  /** share of `count` pings from a to b that got no answer */
  function pingLoss(a: number, b: number, count: number): number {
    let out = '';
    try {
      out = execFileSync('ip', ['netns', 'exec', hosts.hosts[a].name, 'ping', '-q', '-c', String(count), '-i', '0.002', '-W', '1', hosts.hosts[b].address], { encoding: 'utf8' });
    } catch (e) {
      out = String((e as { stdout?: string }).stdout ?? '');
    }
    const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
    if (!m) throw new Error(`ping: no summary in ${out}`);
    return 1 - Number(m[2]) / Number(m[1]);
  }

  it('30 % loss on one direction of a link drops about 30 % of pings across it, none elsewhere, until cleared', async () => {
    const desc = await hosts.netem(0, 1, { lossPct: 30 });
    expect(desc).toMatch(noNetem ? /^nftables random drop 30% .* fb-\w+-h0 → fb-\w+-h1/ : /^tc netem delay 0ms loss 30% on fb-\w+-h0 → fb-\w+-h1/);
    // 400 pings: binomial sd = sqrt(0.3 * 0.7 / 400) ≈ 2.3 %; the bounds are about ±5 sd
    const lost = pingLoss(0, 1, 400);
    expect(lost).toBeGreaterThan(0.18);
    expect(lost).toBeLessThan(0.42);
    expect(pingLoss(0, 2, 50)).toBe(0);
    expect(pingLoss(1, 2, 50)).toBe(0);
    await hosts.clearNetem(0, 1);
    expect(pingLoss(0, 1, 50)).toBe(0);
  }, 60_000);

  it('a delay is refused with the reason where the kernel has no netem', async () => {
    if (noNetem) await expect(hosts.netem(0, 1, { delayMs: 5 })).rejects.toThrow(/tc netem is unavailable/);
    else expect(await hosts.netem(0, 1, { delayMs: 5 })).toMatch(/^tc netem delay 5ms/), await hosts.clearNetem(0, 1);
  });

  it.each(['nftables', 'netem'] as const)('a partition by %s blocks traffic between the groups only, and heal restores it', async (method) => {
    if (method === 'netem' && noNetem) {
      await expect(hosts.partition([[0, 1], [2, 3]], method)).rejects.toThrow(/use nftables/);
      return;
    }
    const desc = await hosts.partition([[0, 1], [2, 3]], method);
    expect(desc).toContain('{h0,h1} | {h2,h3}');
    expect(desc).toContain(method === 'nftables' ? 'nftables' : 'loss 100%');
    const h = hosts.hosts;
    expect(pings(hosts, 0, h[2].address)).toBe(false);
    expect(pings(hosts, 3, h[1].address)).toBe(false);
    expect(pings(hosts, 0, h[1].address)).toBe(true);
    expect(pings(hosts, 3, h[2].address)).toBe(true);
    expect(pings(hosts, 2, hosts.bridgeAddress)).toBe(true); // the coordinator's side stays reachable
    await expect(hosts.partition([[0], [1]])).rejects.toThrow(/already in force/);
    expect(await hosts.heal()).toMatch(/^heal: /);
    expect(pings(hosts, 0, h[2].address)).toBe(true);
    expect(pings(hosts, 3, h[1].address)).toBe(true);
  }, 60_000);

  it('runs created at the same moment get different subnets, and give their subnet back at teardown', async () => {
    const runs = await Promise.all([NetnsHosts.create(1), NetnsHosts.create(1), NetnsHosts.create(1)]);
    try {
      const subnets = runs.map((r) => r.bridgeAddress.split('.').slice(0, 3).join('.'));
      expect(new Set([...subnets, hosts.bridgeAddress.split('.').slice(0, 3).join('.')]).size).toBe(4);
      for (const s of subnets) expect(readdirSync(STATE_DIR)).toContain(`subnet-${s}`);
    } finally {
      await Promise.all(runs.map((r) => r.teardown()));
    }
    const locks = readdirSync(STATE_DIR).filter((f) => f.startsWith('subnet-')).map((f) => readFileSync(join(STATE_DIR, f), 'utf8'));
    for (const r of runs) expect(locks).not.toContain(r.runId);
  }, 60_000);

  it('rejects bad fault input with the field named', async () => {
    await expect(hosts.netem(0, 9, { delayMs: 5 })).rejects.toThrow(/netem.to: expected a host index in 0–3/);
    await expect(hosts.netem(0, 1, { lossPct: 120 })).rejects.toThrow(/netem.lossPct/);
    await expect(hosts.netem(0, 0, {})).rejects.toThrow(/itself/);
    await expect(hosts.partition([[0, 1], [1, 2]])).rejects.toThrow(/host 1 is in two groups/);
  });

  it('teardown removes every namespace, link, qdisc and nftables rule of the run', async () => {
    const other = await NetnsHosts.create(2);
    const kid = other.spawnIn(0, 'sleep', ['60'], { stdio: 'ignore' });
    await other.netem(0, 1, noNetem ? { lossPct: 1 } : { delayMs: 5, jitterMs: 1, lossPct: 1 });
    await other.partition([[0], [1]]);
    expect(kernelMentions(other.runId).length).toBeGreaterThan(0);
    try {
      await other.netem(1, 0, { lossPct: 2 });
    } finally {
      await other.teardown();
    }
    expect(kernelMentions(other.runId)).toEqual([]);
    expect(runLeftovers(other.runId)).toEqual({ namespaces: [], links: [], tables: [] });
    await sleep(100);
    expect(kid.exitCode !== null || kid.signalCode !== null).toBe(true);
  }, 30_000);

  it.each(['SIGKILL', 'SIGINT', 'SIGTERM'] as const)('when the owner dies of %s mid-run, its watchdog removes processes, namespaces, links, qdiscs and rules', async (signal) => {
    const owner = spawn(process.execPath, ['--import', 'tsx', resolve(ROOT, 'src/live/fixtures/netns-owner.ts')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    const info = await new Promise<{ runId: string; pids: number[] }>((res, rej) => {
      let buf = '';
      owner.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        const line = buf.split('\n').find((l) => l.startsWith('{'));
        if (line) res(JSON.parse(line));
      });
      owner.once('exit', (code) => rej(new Error(`owner exited early (${code})`)));
    });
    expect(kernelMentions(info.runId).length).toBeGreaterThan(0);
    owner.kill(signal);
    let left = kernelMentions(info.runId);
    for (let i = 0; i < 100 && left.length; i++) {
      await sleep(100);
      left = kernelMentions(info.runId);
    }
    expect(left).toEqual([]);
    const alive = (pid: number) => startTime(pid) !== null; // a zombie (not yet reaped by its new parent) counts as gone
    expect(info.pids.filter(alive)).toEqual([]);
    expect(netnsRuns()).not.toContain(info.runId);
  }, 60_000);

  it('the leftover sweep removes a run whose owner is dead and keeps a live one', async () => {
    const id = 'deadbeef';
    const n = names(id);
    mkdirSync(STATE_DIR, { recursive: true });
    // pid 2**22 + 1 is above pid_max: never a live process
    writeFileSync(`${STATE_DIR}/${id}.json`, JSON.stringify({ id, pid: 4194305, startTime: '1', subnet: '198.19.255', hosts: 1 }));
    execFileSync('ip', ['netns', 'add', n.ns(0)]);
    execFileSync('ip', ['link', 'add', n.bridge, 'type', 'bridge']);
    expect(kernelMentions(id).length).toBeGreaterThan(0);
    const swept = await sweepLeftovers();
    expect(swept).toContain(id);
    expect(swept).not.toContain(hosts.runId);
    expect(kernelMentions(id)).toEqual([]);
    expect(pings(hosts, 0, hosts.hosts[1].address)).toBe(true);
  }, 30_000);
});
