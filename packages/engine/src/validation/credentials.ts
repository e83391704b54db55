/**
 * Credential references: which nodes name which credential (`data.credential`), and whether those
 * exist and have a type the node accepts. Pure: the caller passes the credentials it knows (the
 * API server loads those of the workspace), so the engine never touches a store.
 */
import { credentialRequirement, type CredentialRequirement, type NodeRegistry } from '../node-type.js';
import type { WorkflowNode } from '../workflow/schema.js';
import { formatPath, type ValidationIssue } from './issues.js';

/** One node's use of a credential, anywhere in the workflow (sub-graphs included). */
export interface CredentialReference {
  nodeId: string;
  /** Where the reference is: `nodes[2].data.credential`, `nodes[1].data.body.nodes[0].data.credential`. */
  path: string;
  /** The id as written; undefined when the node names none. */
  credentialId: string | undefined;
  requirement: CredentialRequirement;
}

/** The nodes of a workflow (or any graph) whose type takes a credential, with what they name. */
export function credentialReferences(workflow: { nodes: readonly unknown[] }, registry: NodeRegistry): CredentialReference[] {
  const references: CredentialReference[] = [];
  collect(workflow.nodes, [], registry, references, 0);
  return references;
}

/** Sub-graphs nest at most this deep here; deeper is nonsense the structural validator reports. */
const MAX_NESTING = 64;

function collect(nodes: unknown, path: Array<string | number>, registry: NodeRegistry, into: CredentialReference[], depth: number): void {
  if (!Array.isArray(nodes) || depth > MAX_NESTING) return;
  nodes.forEach((raw: unknown, index) => {
    if (raw === null || typeof raw !== 'object') return;
    const node = raw as Partial<WorkflowNode>;
    const nodeType = typeof node.type === 'string' ? registry.get(node.type) : undefined;
    if (nodeType === undefined || typeof node.id !== 'string') return;
    const data = node.data !== null && typeof node.data === 'object' ? node.data : {};
    const at = [...path, 'nodes', index];
    const requirement = credentialRequirement(nodeType);
    if (requirement !== undefined) {
      const value = data.credential;
      into.push({ nodeId: node.id, path: formatPath([...at, 'data', 'credential']), credentialId: typeof value === 'string' && value !== '' ? value : undefined, requirement });
    }
    for (const [param, deferred] of Object.entries(nodeType.deferredParams ?? {})) {
      if (deferred.kind !== 'graph') continue;
      const graph = data[param] as { nodes?: unknown } | null | undefined;
      if (graph !== null && typeof graph === 'object') collect(graph.nodes, [...at, 'data', param], registry, into, depth + 1);
    }
  });
}

/**
 * Checks every credential reference against the credentials the caller knows (id → type):
 * `CREDENTIAL_REQUIRED` when a node that needs one names none, `CREDENTIAL_NOT_FOUND` for an
 * unknown id (an `{{ expression }}` is not a credential id either), `CREDENTIAL_TYPE_MISMATCH` for
 * a type the node does not accept. Issues have the validator's shape (code, message, nodeId, path).
 */
export function validateCredentialReferences(workflow: { nodes: readonly unknown[] }, registry: NodeRegistry, known: ReadonlyMap<string, string>): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  for (const { nodeId, path, credentialId, requirement } of credentialReferences(workflow, registry)) {
    const accepts = requirement.types.join(' or ');
    if (credentialId === undefined) {
      if (requirement.required) issues.push({ code: 'CREDENTIAL_REQUIRED', message: `node "${nodeId}" needs a credential (${accepts}) in data.credential`, nodeId, path });
      continue;
    }
    const type = known.get(credentialId);
    if (type === undefined) {
      issues.push({ code: 'CREDENTIAL_NOT_FOUND', message: `node "${nodeId}": credential "${credentialId}" not found`, nodeId, path });
    } else if (!requirement.types.includes(type)) {
      issues.push({ code: 'CREDENTIAL_TYPE_MISMATCH', message: `node "${nodeId}": credential "${credentialId}" is of type ${type}; the node accepts ${accepts}`, nodeId, path });
    }
  }
  return issues;
}
