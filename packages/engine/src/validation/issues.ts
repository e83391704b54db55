/** Validation problems: every one is reported at once, each with a stable code and a location. */

/** Stable validation codes. Scripts match on these; never rename one. */
export const ValidationCode = {
  INVALID_JSON: 'INVALID_JSON',
  INVALID_SCHEMA: 'INVALID_SCHEMA',
  INVALID_NODE_ID: 'INVALID_NODE_ID',
  DUPLICATE_NODE_ID: 'DUPLICATE_NODE_ID',
  DUPLICATE_EDGE_ID: 'DUPLICATE_EDGE_ID',
  DANGLING_EDGE: 'DANGLING_EDGE',
  UNKNOWN_NODE_TYPE: 'UNKNOWN_NODE_TYPE',
  INVALID_PARAMS: 'INVALID_PARAMS',
  CYCLE: 'CYCLE',
  UNKNOWN_HANDLE: 'UNKNOWN_HANDLE',
  INVALID_EXPRESSION: 'INVALID_EXPRESSION',
  UNKNOWN_REFERENCE: 'UNKNOWN_REFERENCE',
  /** `data.credential` names no credential of the workspace (checked where credentials are known). */
  CREDENTIAL_NOT_FOUND: 'CREDENTIAL_NOT_FOUND',
  /** `data.credential` names a credential of a type the node does not accept. */
  CREDENTIAL_TYPE_MISMATCH: 'CREDENTIAL_TYPE_MISMATCH',
  /** The node type needs a credential and `data.credential` is missing. */
  CREDENTIAL_REQUIRED: 'CREDENTIAL_REQUIRED',
  /** Warning: a node with no edges in a graph of several nodes never interacts with the rest. */
  ORPHAN_NODE: 'ORPHAN_NODE',
} as const;
export type ValidationCode = (typeof ValidationCode)[keyof typeof ValidationCode];

/** One problem. `path` locates it in the workflow JSON, e.g. `nodes[1].data.url`. */
export interface ValidationIssue {
  code: ValidationCode;
  message: string;
  nodeId?: string;
  edgeId?: string;
  path?: string;
  /** For `CYCLE`: the nodes of the cycle in order. */
  nodeIds?: string[];
}

/** The outcome of validating a workflow. */
export interface ValidationReport {
  valid: boolean;
  errors: ValidationIssue[];
  warnings: ValidationIssue[];
}

/** Formats a JSON path as `nodes[1].data["odd key"]`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else if (typeof segment === 'string' && /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(segment)) text += text === '' ? segment : `.${segment}`;
    else text += `[${JSON.stringify(String(segment))}]`;
  }
  return text;
}

/** Collects issues while a graph is checked. */
export class IssueCollector {
  readonly errors: ValidationIssue[] = [];
  readonly warnings: ValidationIssue[] = [];

  error(issue: ValidationIssue): void {
    this.errors.push(stripUndefined(issue));
  }

  warn(issue: ValidationIssue): void {
    this.warnings.push(stripUndefined(issue));
  }
}

function stripUndefined(issue: ValidationIssue): ValidationIssue {
  const clean = { ...issue };
  for (const key of Object.keys(clean) as Array<keyof ValidationIssue>) if (clean[key] === undefined) delete clean[key];
  return clean;
}
