/**
 * The figures compare reads from a result, each with its direction. One table, so compare and
 * report agree on names, units and which way is better. Wall-clock figures (machine, sim) are
 * deliberately absent: they are not properties of the protocol.
 */
import type { Result } from '../results/schema.ts';

export type Direction = 'lower' | 'higher';
export type Unit = 'ratio' | 'per-s' | 'bytes' | 'bytes-per-s' | 'count' | 'ms' | 'us-per-s' | 'ns' | 'bool' | 'nodes';

export interface Metric {
  name: string;
  unit: Unit;
  direction: Direction;
  get: (r: Result) => number | null;
}

const pct = (p: { p99: number } | null) => (p ? p.p99 : null);

export const RESULT_METRICS: readonly Metric[] = [
  { name: 'misrouteRate', unit: 'ratio', direction: 'lower', get: (r) => r.summary.requests.misrouteRate },
  { name: 'tailMisrouteRate', unit: 'ratio', direction: 'lower', get: (r) => r.summary.requests.tailMisrouteRate },
  // goodput: answered and correctly routed per second (throughputPerSec is now its alias)
  { name: 'goodputPerSec', unit: 'per-s', direction: 'higher', get: (r) => r.summary.requests.goodputPerSec },
  { name: 'requestLatency.p50', unit: 'ms', direction: 'lower', get: (r) => r.summary.requests.latencyMs?.p50 ?? null },
  { name: 'requestLatency.p99', unit: 'ms', direction: 'lower', get: (r) => pct(r.summary.requests.latencyMs) },
  { name: 'messages/node/s', unit: 'per-s', direction: 'lower', get: (r) => r.summary.messages.perNodePerSec },
  { name: 'bytes/node/s', unit: 'bytes-per-s', direction: 'lower', get: (r) => r.summary.messages.bytesPerNodePerSec },
  { name: 'peakMemory/node', unit: 'bytes', direction: 'lower', get: (r) => r.summary.memory.peakBytesPerNode },
  { name: 'meanMemory/node', unit: 'bytes', direction: 'lower', get: (r) => r.summary.memory.meanBytesPerNode },
  { name: 'peakThreads/node', unit: 'count', direction: 'lower', get: (r) => r.summary.threads.peakPerNode },
  { name: 'peakConnections/node', unit: 'count', direction: 'lower', get: (r) => r.summary.connections.peakPerNode },
  { name: 'protocolCpu/node', unit: 'us-per-s', direction: 'lower', get: (r) => r.summary.cpu.protocolUsPerNodePerSec },
  { name: 'joinConvergence.p99', unit: 'ms', direction: 'lower', get: (r) => pct(r.summary.membership.joinConvergenceMs) },
  { name: 'detection.first.p99', unit: 'ms', direction: 'lower', get: (r) => pct(r.summary.membership.detectionMs.first) },
  { name: 'detection.all.p99', unit: 'ms', direction: 'lower', get: (r) => pct(r.summary.membership.detectionMs.all) },
  { name: 'shardStaleness.p99', unit: 'ms', direction: 'lower', get: (r) => pct(r.summary.shardMap.stalenessMs) },
  { name: 'unconvergedReshards', unit: 'count', direction: 'lower', get: (r) => r.summary.shardMap.unconverged },
  { name: 'falsePositives', unit: 'count', direction: 'lower', get: (r) => r.summary.membership.falsePositives },
  { name: 'viewAccuracy', unit: 'ratio', direction: 'higher', get: (r) => r.summary.membership.viewAccuracy },
  { name: 'limitsHit', unit: 'count', direction: 'lower', get: (r) => r.summary.limitsHit.length },
  { name: 'healthy', unit: 'bool', direction: 'higher', get: (r) => (r.summary.healthy ? 1 : 0) },
];

export function formatValue(v: number | null, unit: Unit): string {
  if (v === null || Number.isNaN(v)) return '–';
  const sig = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2));
  const scaled = (x: number, units: string[], step: number) => {
    let i = 0;
    while (Math.abs(x) >= step && i < units.length - 1) {
      x /= step;
      i++;
    }
    return `${sig(x)}${units[i]}`;
  };
  switch (unit) {
    case 'ratio':
      return v === 0 ? '0%' : `${(v * 100).toPrecision(3)}%`;
    case 'bytes':
      return scaled(v, ['B', 'KiB', 'MiB', 'GiB', 'TiB'], 1024);
    case 'bytes-per-s':
      return scaled(v, ['B/s', 'KiB/s', 'MiB/s', 'GiB/s'], 1024);
    case 'per-s':
      return scaled(v, ['/s', 'k/s', 'M/s', 'G/s'], 1000);
    case 'ms':
      return v >= 1000 ? `${sig(v / 1000)}s` : `${sig(v)}ms`;
    case 'us-per-s':
      return `${sig(v)}µs/s`;
    case 'ns':
      return v >= 1e6 ? `${sig(v / 1e6)}ms` : v >= 1000 ? `${sig(v / 1000)}µs` : `${sig(v)}ns`;
    case 'bool':
      return v ? 'yes' : 'no';
    case 'nodes':
    case 'count':
      return Number.isInteger(v) ? String(v) : sig(v);
  }
}
