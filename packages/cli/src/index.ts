/** @flowpilot/cli — the `flowpilot` command line (`bin/flowpilot.js`). */
export { main } from './main.js';
export { ExitCode, type CliIo } from './io.js';
