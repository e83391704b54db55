import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const source = (name: string): string => fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against sources; the CLI tests spawn the built bin (npm test builds first).
    alias: {
      '@flowpilot/engine': source('engine'),
      '@flowpilot/nodes': source('nodes'),
      '@flowpilot/runtime': source('runtime'),
      '@flowpilot/cli': source('cli'),
    },
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts'],
    testTimeout: 20_000,
  },
});
