/** The CLI's standard streams, passed in so tests can capture them. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean };
}

export const processIo: CliIo = { stdout: process.stdout, stderr: process.stderr };

/** Exit codes: the contract scripts rely on. */
export const ExitCode = {
  OK: 0,
  /** The run failed or was cancelled. */
  FAILED: 1,
  /** The workflow, its input or the command line is invalid. */
  INVALID: 2,
} as const;
