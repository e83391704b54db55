// ESLint flat config (ESLint 9 + typescript-eslint 8, typed linting).
//
// Type information comes from the per-package tsconfigs (packages/*/src, tests excluded) and from
// tsconfig.tests.json (tests, bench, scripts, vitest.config.ts — resolved against package sources).
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const rootDir = import.meta.dirname; // Node >= 20.11

const TS_FILES = ['**/*.ts', '**/*.mts', '**/*.cts'];
const TEST_FILES = ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.ts'];

// Node I/O modules the pure engine core must not touch (both bare and `node:` forms).
const NODE_IO_MODULES = [
  'fs',
  'fs/promises',
  'net',
  'http',
  'https',
  'http2',
  'dgram',
  'dns',
  'dns/promises',
  'child_process',
  'worker_threads',
  'cluster',
  'tls',
];
const ENGINE_PURE_MESSAGE =
  'packages/engine is the pure core: no I/O (fs, network, processes, threads, databases) and no imports from other @flowpilot packages. Put side effects in @flowpilot/runtime, @flowpilot/nodes or @flowpilot/cli.';

export default defineConfig(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      '**/coverage/**',
      'packages/web/dist/**',
      'packages/cli/bin/**', // plain JS launcher
      '.ci/**',
    ],
  },

  // Plain JS (eslint.config.js, .dependency-cruiser.cjs, ad-hoc Node scripts): recommended rules, no type info.
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
  },

  // TypeScript: recommended + typed rules.
  {
    files: TS_FILES,
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: {
      parserOptions: {
        project: ['./packages/*/tsconfig.json', './tsconfig.tests.json'],
        tsconfigRootDir: rootDir,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      // `const { a: _a, ...rest } = x` drops a key on purpose.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true, argsIgnorePattern: '^_' }],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { prefer: 'type-imports', fixStyle: 'separate-type-imports' },
      ],
    },
  },

  // Tests: `any` is allowed.
  {
    files: TEST_FILES,
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },

  // The engine is the pure core.
  {
    files: ['packages/engine/src/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...NODE_IO_MODULES.flatMap((name) => [name, `node:${name}`]),
            'pg',
            'better-sqlite3',
          ].map((name) => ({ name, message: ENGINE_PURE_MESSAGE })),
          patterns: [
            { group: ['@flowpilot/*'], message: ENGINE_PURE_MESSAGE },
            { group: ['pg/*', 'better-sqlite3/*'], message: ENGINE_PURE_MESSAGE },
          ],
        },
      ],
    },
  },
);
