/**
 * The watchdog for black-box agents: the live runtime's reaper (src/live/reaper.mjs), a detached
 * process that SIGKILLs every listed pid and removes every listed directory if this process dies
 * without saying `done` (SIGKILL, crash). So an agent is never left behind, even by a killed test.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REAPER = join(dirname(fileURLToPath(import.meta.url)), '../live/reaper.mjs');

export class Reaper {
  readonly #child: ChildProcess;
  readonly #pids = new Set<number>();

  private constructor(child: ChildProcess) {
    this.#child = child;
  }

  static async start(): Promise<Reaper> {
    // a plain-JS file: no loader flags, and detached so a signal to our group does not reach it
    const child = fork(REAPER, [], { detached: true, stdio: ['ignore', 'ignore', 'ignore', 'ipc'], execArgv: [] });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`blackbox: the reaper exited at start (code ${code})`)));
    });
    child.removeAllListeners('exit');
    child.unref();
    return new Reaper(child);
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  watch(pid: number): void {
    this.#pids.add(pid);
    if (this.#child.connected) this.#child.send({ k: 'pid', pid });
  }

  gone(pid: number): void {
    this.#pids.delete(pid);
    if (this.#child.connected) this.#child.send({ k: 'gone', pid });
  }

  removeOnDeath(dir: string): void {
    if (this.#child.connected) this.#child.send({ k: 'dir', path: dir });
  }

  /** Lets the reaper go: it exits quietly if nothing is listed, otherwise it reaps what is. */
  close(): void {
    if (!this.#child.connected) return;
    if (this.#pids.size === 0) this.#child.send({ k: 'done' });
    this.#child.disconnect();
  }
}
