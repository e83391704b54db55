/** Shared helpers for the engine tests (not a test file itself). */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  planWorkflow,
  validateWorkflow,
  type Command,
  type Plan,
  type ValidationIssue,
  type ValidationResult,
} from '@flowpilot/engine';
import { createBuiltinRegistry } from '@flowpilot/nodes';
import { expect } from 'vitest';

export const registry = createBuiltinRegistry();

export const EXAMPLES_DIR = fileURLToPath(new URL('../../../examples/', import.meta.url));

/** Every examples/**.json file, as [relative name, parsed JSON]. */
export function exampleFiles(): Array<[string, unknown]> {
  const files: Array<[string, unknown]> = [];
  const walk = (dir: string, prefix: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(`${dir}${entry.name}/`, `${prefix}${entry.name}/`);
      else if (entry.name.endsWith('.json')) files.push([`${prefix}${entry.name}`, JSON.parse(readFileSync(`${dir}${entry.name}`, 'utf8'))]);
    }
  };
  walk(EXAMPLES_DIR, '');
  return files.sort(([a], [b]) => a.localeCompare(b));
}

export function readExample(name: string): unknown {
  return JSON.parse(readFileSync(`${EXAMPLES_DIR}${name}`, 'utf8'));
}

export type RawNode = Record<string, unknown> & { id?: unknown; type?: unknown };
export type RawEdge = Record<string, unknown>;

/** A workflow object with a name and the given nodes and edges. */
export function wf(nodes: RawNode[], edges: RawEdge[] = [], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: 'test', nodes, edges, ...extra };
}

export function validate(value: unknown): ValidationResult {
  return validateWorkflow(value, registry);
}

export function plan(value: unknown): Plan {
  return planWorkflow(value, registry);
}

/** The errors with the given code. */
export function errorsWith(result: ValidationResult, code: string): ValidationIssue[] {
  return result.errors.filter((issue) => issue.code === code);
}

/** Asserts the result has exactly one error and returns it. */
export function onlyError(result: ValidationResult): ValidationIssue {
  expect(result.valid).toBe(false);
  expect(result.errors, JSON.stringify(result.errors)).toHaveLength(1);
  return result.errors[0]!;
}

/** Asserts the workflow is valid and has no warnings. */
export function expectValid(result: ValidationResult): void {
  expect(result.errors, JSON.stringify(result.errors)).toEqual([]);
  expect(result.valid).toBe(true);
  expect(result.plan).toBeDefined();
}

/** mulberry32: a tiny seeded PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Seeded helpers over a PRNG. */
export class Rng {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }
  chance(probability: number): boolean {
    return this.next() < probability;
  }
  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }
}

type CommandOf<T extends Command['type']> = Extract<Command, { type: T }>;

/** The commands of one type, in order. */
export function commandsOf<T extends Command['type']>(commands: readonly Command[], type: T): Array<CommandOf<T>> {
  return commands.filter((command): command is CommandOf<T> => command.type === type);
}

/** The node ids of the `startStep` commands, in order. */
export function started(commands: readonly Command[]): string[] {
  return commandsOf(commands, 'startStep').map((command) => command.nodeId);
}
