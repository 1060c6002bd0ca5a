/**
 * Recording what a fleet driver asks of its backend: a tap on a real backend, and a backend that
 * only records, in virtual time. The parity test (test/fleet-parity.test.ts) uses both to show
 * that every runtime receives the same sequence of calls for the same scenario and seed.
 */
import type { Bootstrap } from '../contract/protocol.ts';
import type { FleetBackend, HostSample } from './backend.ts';
import type { FleetDriver } from './driver.ts';
import { constructionOnIdleCores } from './config-store.ts';

/** One call a driver made: the method and its arguments (a bootstrap reduced to what it says). */
export type DriverCall = [method: string, ...args: unknown[]];

/** The calls that carry the driver's decisions (not the clock, scheduling or sampling). */
const DECISIONS = ['launch', 'boot', 'leave', 'crash', 'pause', 'resume', 'setLoss', 'partition', 'heal', 'originate', 'request'] as const;

function describe(method: string, args: unknown[]): DriverCall {
  if (method === 'boot') {
    const b = args[1] as Bootstrap;
    return ['boot', args[0], { joining: b.joining, members: [...b.members], shards: b.shards, versionSum: b.shardVersion.reduce((a, v) => a + v, 0) }];
  }
  if (method === 'partition') return ['partition', [...(args[0] as number[])]];
  return [method, ...args];
}

/** Wraps `backend` so every decision call is recorded before it is carried out. */
export function tapBackend(backend: FleetBackend, calls: DriverCall[]): FleetBackend {
  const decisions = new Set<string>(DECISIONS);
  return new Proxy(backend, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      if (typeof prop === 'string' && decisions.has(prop)) {
        return (...args: unknown[]) => {
          calls.push(describe(prop, args));
          return v.apply(target, args);
        };
      }
      return v.bind(target);
    },
  });
}

/**
 * A backend with no nodes behind it: virtual time, callbacks in (time, order) order, every request
 * answered with the truth, every sample empty. It records the driver's decisions.
 */
export class RecordingBackend implements FleetBackend {
  readonly calls: DriverCall[] = [];
  #now = 0;
  #seq = 0;
  readonly #queue: Array<{ t: number; seq: number; fn: () => void }> = [];
  constructor(readonly driver: FleetDriver) {}

  now(): number {
    return this.#now;
  }
  at(t: number, fn: () => void): void {
    this.#queue.push({ t, seq: this.#seq++, fn });
  }
  /** Runs every callback due by `end`, in time order. */
  runUntil(end: number): void {
    for (;;) {
      let best = -1;
      for (let i = 0; i < this.#queue.length; i++) {
        const e = this.#queue[i];
        if (e.t > end) continue;
        if (best < 0 || e.t < this.#queue[best].t || (e.t === this.#queue[best].t && e.seq < this.#queue[best].seq)) best = i;
      }
      if (best < 0) break;
      const [e] = this.#queue.splice(best, 1);
      this.#now = e.t;
      e.fn();
    }
    this.#now = end;
  }
  #record(method: string, args: unknown[]): void {
    this.calls.push(describe(method, args));
  }
  launch(node: number): void {
    this.#record('launch', [node]);
  }
  boot(node: number, boot: Bootstrap): void {
    this.#record('boot', [node, boot]);
  }
  leave(node: number): void {
    this.#record('leave', [node]);
  }
  crash(node: number): void {
    this.#record('crash', [node]);
  }
  pause(node: number, untilMs: number): void {
    this.#record('pause', [node, untilMs]);
  }
  resume(node: number): void {
    this.#record('resume', [node]);
  }
  setLoss(rate: number): void {
    this.#record('setLoss', [rate]);
  }
  partition(side: readonly number[]): void {
    this.#record('partition', [side]);
  }
  heal(): void {
    this.#record('heal', []);
  }
  originate(node: number, shard: number, cluster: number, version: number): void {
    this.#record('originate', [node, shard, cluster, version]);
  }
  request(node: number, shard: number, t: number): void {
    this.#record('request', [node, shard, t]);
    this.driver.answered(t, shard, this.driver.truth.clusterAt(shard, t));
  }
  /** No run queue here: the construction ends as it would on a node doing nothing else. */
  construct(node: number, pageTimes: readonly number[], pageUs: readonly number[], done: (t: number) => void): void {
    const t = constructionOnIdleCores(pageTimes, pageUs, this.driver.cfg.limits.coresPerNode);
    this.at(t, () => done(t));
  }
  collectSample(_t: number, done: (s: HostSample) => void): void {
    done({ messages: 0, bytes: 0, threadsMaxPerNode: 0, connectionsMaxPerNode: 0, memoryMaxBytesPerNode: 0 });
  }
}
