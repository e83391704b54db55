// dependency-cruiser configuration — `npm run check:deps`.
//
// Workspace imports (`@flowpilot/<name>`) are resolved through the `paths` of tsconfig.tests.json to
// packages/<name>/src/index.ts, so cross-package edges (and cycles) are seen between sources.
// Anything else that reaches a workspace package through node_modules is followed through the
// symlink to its real path (packages/<name>/...), which is what `no-dist-imports` looks at.

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Circular dependencies make modules hard to reason about, test and load in order.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'engine-is-pure',
      severity: 'error',
      comment:
        'packages/engine is the pure core: it must not depend on the other packages ' +
        '(nodes, runtime, cli, store, server, web) nor on any Node core module (fs, net, http, ...).',
      from: { path: '^packages/engine/src' },
      to: { path: '^packages/(nodes|runtime|cli|store|server|web)(/|$)' },
    },
    {
      name: 'engine-is-pure',
      severity: 'error',
      comment:
        'packages/engine is the pure core: no Node core modules (no exceptions). ' +
        'Side effects live in @flowpilot/runtime, @flowpilot/nodes or @flowpilot/cli.',
      from: { path: '^packages/engine/src' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'no-dist-imports',
      severity: 'error',
      comment:
        "Sources, tests, benchmarks and scripts must not import a workspace package's build output (dist/); " +
        'import its public entry (@flowpilot/<name>) or a relative source file instead.',
      from: { path: '^(packages/[^/]+/(src|test)|bench|scripts)/' },
      to: { path: '^(packages/[^/]+|node_modules/@flowpilot/[^/]+)/dist/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that cannot be resolved (typo, missing dependency, missing file).',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Cruise sources/tests, not build output; dist/ and node_modules are still recorded as
    // dependency targets (so no-dist-imports can fire) but not scanned or followed.
    doNotFollow: { path: ['(^|/)node_modules/', '^packages/[^/]+/dist/'] },
    exclude: { path: ['(^|/)coverage/'] },
    // Follow node_modules/@flowpilot/* symlinks to their real location under packages/.
    preserveSymlinks: false,
    tsConfig: { fileName: 'tsconfig.tests.json' },
    // Count type-only imports too: a type-only import of another package still couples the engine to it.
    tsPreCompilationDeps: true,
    combinedDependencies: false,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
      extensions: ['.ts', '.tsx', '.d.ts', '.js', '.mjs', '.cjs', '.json'],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
