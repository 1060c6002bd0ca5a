import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // simulator runs are CPU-bound; generous per-test budget, never an assertion on speed
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
