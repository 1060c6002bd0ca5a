/** Human-readable figures for the terminal. Files keep raw numbers. */
import Table from 'cli-table3';
import type { Result } from '../results/schema.ts';

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n >= 100 || i === 0 ? n.toFixed(0) : n.toFixed(1)} ${units[i]}`;
}

export function num(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

export function pct(r: number): string {
  return r === 0 ? '0' : `${(r * 100).toFixed(r < 0.001 ? 3 : 2)}%`;
}

export function ms(p: { p50: number; p99: number; max: number } | null): string {
  return p ? `${(p.p50 / 1000).toFixed(1)}/${(p.max / 1000).toFixed(1)}s` : '–';
}

/** "240→280" when the fleet changed size during the run. */
function nodes(r: Result): string {
  const last = r.timeseries[r.timeseries.length - 1]?.liveNodes ?? r.run.nodes;
  return last === r.run.nodes ? String(r.run.nodes) : `${r.run.nodes}→${last}`;
}

export function comparisonTable(results: readonly Result[]): string {
  const t = new Table({
    head: ['protocol', 'nodes', 'failed', 'misroutes', 'tail misroutes', 'unroutable FEs', 'threads/node', 'memory/node', 'msgs/node/s', 'staleness p50/max', 'limits hit', 'healthy'],
    style: { head: [], border: [] },
  });
  for (const r of results) {
    const s = r.summary;
    t.push([
      r.run.protocol,
      nodes(r) + (r.run.completed ? '' : ' (stopped)'),
      pct(s.requests.failedRate),
      pct(s.requests.misrouteRate),
      pct(s.requests.tailMisrouteRate),
      pct(s.routing.unroutableNodesPeak),
      num(s.threads.peakPerNode),
      bytes(s.memory.peakBytesPerNode),
      num(s.messages.perNodePerSec),
      ms(s.shardMap.stalenessMs) + (s.shardMap.unconverged ? ` (${s.shardMap.unconverged} never)` : ''),
      s.limitsHit.length ? s.limitsHit.map((l) => `${l.limit}: ${l.nodes} nodes @${(l.firstAtMs / 1000).toFixed(1)}s`).join('; ') : 'none',
      s.healthy ? 'yes' : 'NO',
    ]);
  }
  return t.toString();
}
