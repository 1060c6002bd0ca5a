/**
 * The load search, apart from what a run is: offered load per node doubles from `start` until a
 * run fails (or halves until one passes), then bisects between the largest passing and the
 * smallest failing load until they are within `resolution` of each other. It assumes that
 * passing is monotone in load (true of a queue; noise near the threshold can mislead it, so every
 * run is kept as evidence). Bounded: at most `maxRuns` runs and until `deadline` (epoch ms).
 */
import type { LoadRun, Search } from './schema.ts';

export interface SearchBounds {
  /** first load tried, requests/s per node */
  start: number;
  /** growth stops here (a pass at maxLoad is status max-load) */
  maxLoad: number;
  /** halving stops here (a failure at minLoad is status none-passing) */
  minLoad: number;
  /** stop bisecting when (fail − pass) ≤ resolution × fail */
  resolution: number;
  maxRuns: number;
  /** wall-clock deadline, epoch ms */
  deadline: number;
}

/** One run at `perNodePerSec`; 'stopped' when it was interrupted before it completed. */
export type Measure = (perNodePerSec: number) => Promise<LoadRun | 'stopped'>;

export async function searchLoad(
  measure: Measure,
  b: SearchBounds,
  o: { shouldStop?: () => boolean; now?: () => number } = {},
): Promise<Omit<Search, 'nodes' | 'sets'>> {
  const now = o.now ?? Date.now;
  const runs: LoadRun[] = [];
  let pass: LoadRun | null = null;
  let fail: LoadRun | null = null;
  let status: Search['status'] | null = null;

  /** measures one load; returns a terminal status, or null to go on */
  const step = async (load: number): Promise<Search['status'] | null> => {
    if (o.shouldStop?.()) return 'interrupted';
    if (runs.length >= b.maxRuns || now() >= b.deadline) return 'budget';
    const r = await measure(load);
    if (r === 'stopped') return 'interrupted';
    runs.push(r);
    if (r.pass && (!pass || r.perNodePerSec > pass.perNodePerSec)) pass = r;
    if (!r.pass && (!fail || r.perNodePerSec < fail.perNodePerSec)) fail = r;
    return null;
  };

  // bracket: grow from start while runs pass, or shrink while they fail
  for (let load = Math.min(Math.max(b.start, b.minLoad), b.maxLoad); ; ) {
    status = await step(load);
    if (status) break;
    const last = runs[runs.length - 1];
    if (last.pass) {
      if (fail) break;
      if (load >= b.maxLoad) {
        status = 'max-load';
        break;
      }
      load = Math.min(2 * load, b.maxLoad);
    } else {
      if (pass) break;
      if (load <= b.minLoad) {
        status = 'none-passing';
        break;
      }
      load = Math.max(load / 2, b.minLoad);
    }
  }
  // bisect
  while (!status) {
    const lo = pass as LoadRun | null, hi = fail as LoadRun | null;
    if (!lo || !hi || hi.perNodePerSec - lo.perNodePerSec <= b.resolution * hi.perNodePerSec) break;
    status = await step((lo.perNodePerSec + hi.perNodePerSec) / 2);
  }
  const p = pass as LoadRun | null, f = fail as LoadRun | null;
  return {
    status: status ?? 'found',
    capacityPerNodePerSec: p ? p.perNodePerSec : 0,
    firstFailing: f ? { perNodePerSec: f.perNodePerSec, broke: f.broke } : null,
    runs: [...runs].sort((x, y) => x.perNodePerSec - y.perNodePerSec),
  };
}
