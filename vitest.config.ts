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
      '@flowpilot/store': source('store'),
      '@flowpilot/vault': source('vault'),
      '@flowpilot/worker': source('worker'),
      '@flowpilot/server': source('server'),
    },
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 20_000,
    pool: 'forks',
    // Keep vitest's default console output. Extra reporters can be added on the command line
    // (e.g. `.ci/run` adds `--reporter=default --reporter=json --outputFile=...`).
    reporters: ['default'],
  },
});
