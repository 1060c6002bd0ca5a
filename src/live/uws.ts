/**
 * Loads uWebSockets.js's native binary directly, never its JavaScript fallback.
 *
 * The package (`@trufflesuite/uws-js-unofficial`, aliased as uWebSockets.js) catches a failed
 * native load, prints a warning and silently returns a Node.js implementation; measuring that
 * would report ws-like figures under the uWS name. So the live runtime requires the binary by
 * its absolute path and lets the load error surface.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type * as UWS from 'uWebSockets.js';

export type Uws = typeof UWS;

export class UwsUnavailableError extends Error {}

/** Absolute path of the native binary this Node needs (ABI `process.versions.modules`). */
export function uwsBinaryPath(): string {
  const require = createRequire(import.meta.url);
  const pkg = require.resolve('uWebSockets.js/package.json');
  return join(dirname(pkg), 'binaries', `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
}

/** Throws UwsUnavailableError with the reason when there is no native binary for this Node. */
export function checkUwsBinary(path = uwsBinaryPath()): string {
  if (!existsSync(path)) {
    throw new UwsUnavailableError(
      `--transport uws: no native uWebSockets.js binary for ${process.platform}-${process.arch} ABI ${process.versions.modules} (looked for ${path}); ` +
        'the package would silently fall back to a JavaScript implementation, so this run refuses instead. Use --transport ws or a Node version the package ships a binary for.',
    );
  }
  return path;
}

/** Loads the native binary at `path`; a failure is an error, never a fallback. */
export function loadUwsNative(path: string): Uws {
  checkUwsBinary(path);
  try {
    const mod = createRequire(import.meta.url)(path) as Uws;
    if (typeof mod.App !== 'function' || typeof mod.us_socket_local_port !== 'function') {
      throw new Error('the module loaded but does not export App/us_socket_local_port');
    }
    return mod;
  } catch (e) {
    throw new UwsUnavailableError(`--transport uws: the native uWebSockets.js binary failed to load (${(e as Error).message}); refusing to fall back to its JavaScript implementation`);
  }
}
