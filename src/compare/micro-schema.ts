/**
 * The micro-benchmark file written by bench/micro/run.ts and read by compare and report:
 * `schema: "fleetbench/micro@1"`.
 *
 *   {
 *     "schema": "fleetbench/micro@1",
 *     "tool": { "version", "gitCommit" },  "machine": { cpuModel, cpus, memBytes, node, os },
 *     "rounds": 5,             // how many times the whole suite ran
 *     "timeMsPerRound": 200,   // tinybench `time` budget per task per round
 *     "tasks": [{
 *       "name": "event-queue push+pop",
 *       "unit": "ns/op",       // always nanoseconds per operation; lower is better
 *       "opsPerIteration": 1000,
 *       "samples": [ … ],      // one per round: tinybench's mean latency of the round ÷ opsPerIteration
 *       "median": 41.2
 *     }]
 *   }
 *
 * One sample per round (not tinybench's per-iteration latencies) because rounds are the
 * independent repetitions that a Mann–Whitney test needs; iterations within a round are not.
 */
import { z } from 'zod';
import { parseDocument, readVersioned } from '../results/files.ts';

export const MICRO_SCHEMA = 'fleetbench/micro@1';

export const MicroTaskSchema = z.object({
  name: z.string().min(1),
  unit: z.literal('ns/op'),
  opsPerIteration: z.number().positive(),
  samples: z.array(z.number().nonnegative()).min(1),
  median: z.number().nonnegative(),
});

export const MicroResultSchema = z.object({
  schema: z.literal(MICRO_SCHEMA),
  tool: z.object({ version: z.string(), gitCommit: z.string().nullable() }),
  machine: z.object({ cpuModel: z.string(), cpus: z.number(), memBytes: z.number(), node: z.string(), os: z.string() }),
  rounds: z.number().int().min(1),
  timeMsPerRound: z.number().positive(),
  tasks: z.array(MicroTaskSchema),
});

export type MicroResult = z.infer<typeof MicroResultSchema>;
export type MicroTask = z.infer<typeof MicroTaskSchema>;

export function parseMicro(path: string, data: unknown): MicroResult {
  return parseDocument(path, data, MicroResultSchema);
}

export function readMicro(path: string): MicroResult {
  return readVersioned(path, MICRO_SCHEMA, MicroResultSchema);
}
