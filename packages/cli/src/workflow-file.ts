/** Reading workflow and input files for the CLI, with errors that name the file. */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { FlowPilotError, type WorkflowRef } from '@flowpilot/engine';
import type { WorkflowLoader } from '@flowpilot/runtime';

/** Reads a workflow file as text; a missing or unreadable file is a `FILE_UNREADABLE` error. */
export async function readWorkflowText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (error as Error).message;
    throw new FlowPilotError('FILE_UNREADABLE', `cannot read ${file}: ${why}`, { retryable: false });
  }
}

/** Parses `--input`: inline JSON, or `@path` to a JSON file. */
export async function parseInputOption(value: string | undefined): Promise<unknown> {
  if (value === undefined) return {};
  const fromFile = value.startsWith('@');
  const text = fromFile ? await readWorkflowText(value.slice(1)) : value;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const where = fromFile ? value.slice(1) : '--input';
    throw new FlowPilotError('INVALID_INPUT', `${where} is not valid JSON: ${(error as Error).message}`, { retryable: false });
  }
}

/** Loads sub-workflows from files relative to the workflow that references them. */
export const fileWorkflowLoader: WorkflowLoader = async (ref: WorkflowRef, from: string | undefined) => {
  if (ref.file === undefined) {
    throw new FlowPilotError('WORKFLOW_NOT_FOUND', `workflow "${ref.workflowId ?? '?'}" can only be loaded by id from a server; the CLI runs files`, { retryable: false });
  }
  const path = resolve(from === undefined ? process.cwd() : dirname(from), ref.file);
  const text = await readWorkflowText(path);
  try {
    return { workflow: JSON.parse(text) as unknown, source: path };
  } catch (error) {
    throw new FlowPilotError('INVALID_JSON', `${path} is not valid JSON: ${(error as Error).message}`, { retryable: false });
  }
};
