import { defineConfig } from 'vitest/config';

/**
 * Tests that start fleets of real processes, network namespaces or third-party agents: minutes of
 * wall time on 2 cores. `npm test` runs everything else (a few minutes at most); `npm run
 * test:integration` runs these; CI (.ci/run) runs both.
 */
export const INTEGRATION = [
  'test/live*.test.ts',
  'test/netns*.test.ts',
  'test/placement.test.ts',
  'test/host-agent.test.ts',
  'test/serf*.test.ts',
  'test/ci-sweep.test.ts',
];

export default defineConfig({
  test: {
    include: process.env.FLEETBENCH_TESTS === 'integration' ? INTEGRATION : ['test/**/*.test.ts'],
    exclude: process.env.FLEETBENCH_TESTS === 'integration' ? [] : INTEGRATION,
    // simulator runs are CPU-bound; generous per-test budget, never an assertion on speed
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
