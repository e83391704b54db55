/** Checks a node's `data` against its node type's params schema, tolerating `{{ }}` templates. */
import type { z } from 'zod';
import { hasTemplate } from '../expressions/template.js';
import type { NodeType } from '../node-type.js';
import { formatPath, type IssueCollector } from './issues.js';

/**
 * Returns the parsed params when they are valid as written (reused as a plan's static params).
 * A template stands in for a value of any type until run time (`"ms": "{{ input.wait }}"`), so a
 * schema issue at or below a template string is not an error here; the resolved params are
 * checked again before each attempt.
 */
export function checkParams(
  nodeType: NodeType,
  data: Record<string, unknown>,
  nodeId: string,
  dataPath: ReadonlyArray<string | number>,
  issues: IssueCollector,
): { value: unknown } | undefined {
  const result = nodeType.params.safeParse(data);
  if (result.success) return { value: result.data };
  for (const issue of result.error.issues) {
    if (isUnderTemplate(data, issue.path)) continue;
    const where = issue.path.length > 0 ? formatPath(issue.path) : 'data';
    issues.error({
      code: 'INVALID_PARAMS',
      message: `node "${nodeId}" (${nodeType.type}): ${where}: ${issue.message}`,
      nodeId,
      path: formatPath([...dataPath, ...issue.path]),
    });
  }
  return undefined;
}

function isUnderTemplate(data: unknown, path: ReadonlyArray<PropertyKey>): boolean {
  let value = data;
  for (const segment of path) {
    if (typeof value === 'string') return hasTemplate(value);
    if (value === null || typeof value !== 'object') return false;
    value = (value as Record<PropertyKey, unknown>)[segment];
  }
  return typeof value === 'string' && hasTemplate(value);
}

/** Formats zod issues of resolved params for a run-time `INVALID_PARAMS` error. */
export function describeParamIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? formatPath(issue.path) : 'data'}: ${issue.message}`)
    .join('; ');
}
