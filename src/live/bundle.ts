/**
 * Builds the code the live processes run: one ESM bundle per run (esbuild, the transformer tsx
 * itself uses) with three entries — node host, Worker host, load generator — and shared chunks.
 *
 * Why not tsx in every process: measured here, a Worker that registers tsx costs an extra
 * loader-hooks thread, ~16 MB more RSS and ~100 ms more to start than the same code as plain
 * JavaScript; that would double thread-per-peer's thread count and distort every figure the live
 * runtime exists to read from the OS. The bundle is the same protocol source, transformed once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';
import type { ProtocolDefinition } from '../contract/protocol.ts';
import { PROTOCOLS } from '../protocols.ts';
import { UsageError } from '../errors.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const PROTOCOLS_MODULE = resolve(HERE, '../protocols.ts');

/** Where a ProtocolDefinition can be imported from in another process: module URL and export name. */
export interface ProtocolRef {
  module: string;
  export: string;
}

export interface Bundles {
  dir: string;
  node: string;
  worker: string;
  loadgen: string;
  probe: string;
  /** file URLs, for `new Worker(url)` */
  workerUrl: string;
}

const toPath = (m: string) => (m.startsWith('file:') ? fileURLToPath(m) : resolve(m));

function defImport(protocol: ProtocolDefinition<any>, ref: ProtocolRef | undefined): string {
  if (ref) return `import { ${ref.export} as def } from ${JSON.stringify(toPath(ref.module))};\n`;
  if (!PROTOCOLS.has(protocol.name)) {
    throw new UsageError(
      `live: protocol "${protocol.name}" is not registered in src/protocols.ts; other processes cannot load it. Register it, or pass protocolRef { module, export } to runLive`,
    );
  }
  return `import { getProtocol } from ${JSON.stringify(PROTOCOLS_MODULE)};\nconst def = getProtocol(${JSON.stringify(protocol.name)});\n`;
}

/** `ws` stays outside the bundle (it is CommonJS); everything else bare is a mistake here. */
function externals(): Plugin {
  const require = createRequire(import.meta.url);
  const wsEsm = join(dirname(require.resolve('ws/package.json')), 'wrapper.mjs');
  return {
    name: 'fleetbench-live-externals',
    setup(b) {
      b.onResolve({ filter: /^ws$/ }, () => ({ path: wsEsm, external: true }));
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path.startsWith('node:') || args.path.startsWith('/') || args.kind === 'entry-point') return undefined;
        // the black-box host's Serf RPC client (src/blackbox/serf/rpc.ts): pure ESM, bundled in
        if (args.path === '@msgpack/msgpack') return undefined;
        return { errors: [{ text: `live bundle: unexpected package import "${args.path}" from ${args.importer}` }] };
      });
    },
  };
}

export async function buildBundles(protocol: ProtocolDefinition<any>, ref?: ProtocolRef): Promise<Bundles> {
  const dir = mkdtempSync(join(tmpdir(), 'fleetbench-live-'));
  const def = defImport(protocol, ref);
  const entries = protocol.threadEntries ?? [];
  const sources: Record<string, string> = {
    // a black-box protocol's node supervises a real agent instead of running protocol code
    node:
      protocol.kind === 'black-box'
        ? `${def}import { runBlackBoxHost } from ${JSON.stringify(join(HERE, '../blackbox/host.ts'))};\nrunBlackBoxHost(def);\n`
        : `${def}import { runNodeHost } from ${JSON.stringify(join(HERE, 'node-host.ts'))};\nrunNodeHost(def);\n`,
    worker:
      `${def}import { runWorker } from ${JSON.stringify(join(HERE, 'worker-host.ts'))};\n` +
      entries.map((e, i) => `import * as t${i} from ${JSON.stringify(toPath(e.module))};\n`).join('') +
      // in the order of the (specialized) definition's threadEntries; the Worker specializes the
      // definition with the run's parameters and pairs them by position
      `runWorker(def, [${entries.map((_, i) => `t${i}`).join(', ')}]);\n`,
    loadgen: `import { runLoadgen } from ${JSON.stringify(join(HERE, 'loadgen.ts'))};\nrunLoadgen();\n`,
    probe: `import { runProbe } from ${JSON.stringify(join(HERE, 'probe.ts'))};\nrunProbe();\n`,
  };
  const virtual: Plugin = {
    name: 'fleetbench-live-entries',
    setup(b) {
      b.onResolve({ filter: /^fleetbench-live:/ }, (args) => ({ path: args.path.slice('fleetbench-live:'.length), namespace: 'fleetbench-live' }));
      b.onLoad({ filter: /.*/, namespace: 'fleetbench-live' }, (args) => ({ contents: sources[args.path], loader: 'js', resolveDir: HERE }));
    },
  };
  try {
    await build({
      entryPoints: Object.keys(sources).map((k) => ({ in: `fleetbench-live:${k}`, out: k })),
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      outdir: dir,
      outExtension: { '.js': '.mjs' },
      plugins: [virtual, externals()],
      logLevel: 'silent',
    });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    dir,
    node: join(dir, 'node.mjs'),
    worker: join(dir, 'worker.mjs'),
    loadgen: join(dir, 'loadgen.mjs'),
    probe: join(dir, 'probe.mjs'),
    workerUrl: pathToFileURL(join(dir, 'worker.mjs')).href,
  };
}
