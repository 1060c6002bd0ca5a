/**
 * Named sweeps. `quick` is what CI runs on every change and compares exactly with the committed
 * baseline (results/baseline/quick): deterministic simulator runs, every registered protocol,
 * about half a minute on a 2-core machine. Each scenario is its own sweep in <out>/<scenario>.
 */
import { UsageError } from '../errors.ts';
import { PROTOCOLS } from '../protocols.ts';

export interface PresetPart {
  scenario: string;
  nodes: number[];
  /** null: the scenario's own duration */
  durationMs: number | null;
}

export const PRESETS: Readonly<Record<string, readonly PresetPart[]>> = {
  quick: [
    // per-node costs against N: enough sizes for a growth exponent
    { scenario: 'steady', nodes: [50, 100, 200, 400], durationMs: 10_000 },
    // detection and join convergence need the scenarios' events at 10 s
    { scenario: 'crash', nodes: [50, 100], durationMs: null },
    { scenario: 'join', nodes: [50, 100], durationMs: null },
    // the outage itself, at its own size
    { scenario: 'kinesis-2020', nodes: [240], durationMs: null },
  ],
};

export function getPreset(name: string): readonly PresetPart[] {
  const p = PRESETS[name];
  if (!p) throw new UsageError(`--preset: unknown preset "${name}"; known: ${Object.keys(PRESETS).join(', ')}`);
  return p;
}

/** Every registered protocol, in registry order: a new protocol joins the preset automatically.
 *  Black-box protocols (real agents, live runtime only) are not simulator runs. */
export function presetProtocols(): string[] {
  return [...PROTOCOLS.values()].filter((p) => p.kind !== 'black-box').map((p) => p.name);
}
