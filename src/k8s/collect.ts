/**
 * `fleetbench k8s collect`: copies a cluster run's result file out of the coordinator's pod.
 * The coordinator Job (render.ts) writes /results/result.json and then /results/exit-code, and
 * holds its pod until /results/collected exists. Collect waits for the exit code, reads the
 * result with `kubectl exec … cat` (the file's bytes, not console output), validates it against
 * the result schema, writes it atomically, and only then acknowledges — so a failed copy can
 * simply be retried while the pod holds.
 */
import { execFile } from 'node:child_process';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { UsageError } from '../errors.ts';
import { readResult, type Result } from '../results/schema.ts';
import { COLLECTED_FILE, EXIT_FILE, RESULTS_DIR, RESULT_FILE } from './render.ts';

const pexec = promisify(execFile);

export interface CollectOptions {
  name: string;
  namespace: string;
  out: string;
  kubectl?: string;
  /** give up waiting for the pod and the run's end after this long */
  timeoutMs?: number;
  pollMs?: number;
}

export interface Collected {
  pod: string;
  exitCode: number;
  result: Result;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function collect(o: CollectOptions): Promise<Collected> {
  const kubectl = o.kubectl ?? 'kubectl';
  const deadline = Date.now() + (o.timeoutMs ?? 3_600_000);
  const poll = o.pollMs ?? 2000;
  const job = `${o.name}-coordinator`;
  const k = async (args: string[]) => (await pexec(kubectl, ['-n', o.namespace, ...args], { encoding: 'utf8', maxBuffer: 512 * 2 ** 20 })).stdout;
  const inPod = (pod: string, cmd: string[]) => k(['exec', pod, '-c', 'coordinator', '--', ...cmd]);

  let pod = '';
  let lastError = '';
  while (!pod) {
    try {
      pod = (await k(['get', 'pods', '-l', `job-name=${job}`, '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
    } catch (e) {
      lastError = (e as Error).message;
    }
    if (pod) break;
    if (Date.now() > deadline) throw new UsageError(`k8s collect: no pod of job ${job} in namespace ${o.namespace}${lastError ? ` (${lastError.trim()})` : ''}; was the run applied (kubectl apply -f)?`);
    await sleep(poll);
  }

  let exitCode: number | null = null;
  while (exitCode === null) {
    try {
      const t = (await inPod(pod, ['cat', `${RESULTS_DIR}/${EXIT_FILE}`])).trim();
      if (/^\d+$/.test(t)) exitCode = Number(t);
    } catch {
      /* still running */
    }
    if (exitCode !== null) break;
    if (Date.now() > deadline) throw new Error(`k8s collect: the run in pod ${pod} had not ended by the timeout; see kubectl -n ${o.namespace} logs job/${job}`);
    await sleep(poll);
  }

  let text: string;
  try {
    text = await inPod(pod, ['cat', `${RESULTS_DIR}/${RESULT_FILE}`]);
  } catch (e) {
    throw new Error(`k8s collect: the coordinator exited with code ${exitCode} and wrote no result (${(e as Error).message.trim()}); see kubectl -n ${o.namespace} logs job/${job}`);
  }
  const tmp = `${o.out}.collect-${process.pid}.tmp`;
  let result: Result;
  try {
    writeFileSync(tmp, text);
    result = readResult(tmp);
    renameSync(tmp, o.out);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new UsageError(`k8s collect: ${RESULTS_DIR}/${RESULT_FILE} in pod ${pod} is not a valid result: ${(e as Error).message}`);
  }
  await inPod(pod, ['touch', `${RESULTS_DIR}/${COLLECTED_FILE}`]);
  return { pod, exitCode, result };
}
