/**
 * Finds the root names an expression reads (`start` in `start.name`), so the validator can check
 * that every node an expression reads is upstream of it. Only names evaluated against the root
 * scope count: `price` in `items[price > 5]` is a field of each item, not a node.
 */

interface AstNode {
  type?: string;
  value?: unknown;
  steps?: AstNode[];
  stages?: AstNode[];
  predicate?: AstNode[];
  group?: { lhs?: AstNode[][] };
  [key: string]: unknown;
}

/** Keys whose sub-trees are evaluated against each item rather than the root scope. */
const ITEM_CONTEXT_KEYS = new Set(['stages', 'predicate', 'group', 'terms']);
/** Keys that hold no sub-expressions worth visiting. */
const SKIP_KEYS = new Set(['type', 'value', 'position', 'procedure', 'keepArray', 'consarray', 'tuple']);

/** Collects the root names read by a JSONata AST into `into`. */
export function collectRootNames(ast: unknown, into: Set<string>): Set<string> {
  visit(ast as AstNode, true, into);
  return into;
}

function visit(node: AstNode | undefined, atRoot: boolean, into: Set<string>): void {
  if (node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (const child of node) visit(child as AstNode, atRoot, into);
    return;
  }
  if (node.type === 'name') {
    if (atRoot && typeof node.value === 'string') into.add(node.value);
    visitItemContext(node, into);
    return;
  }
  if (node.type === 'path' && Array.isArray(node.steps)) {
    visitPath(node.steps, atRoot, into);
    visitItemContext(node, into);
    return;
  }
  for (const [key, child] of Object.entries(node)) {
    if (SKIP_KEYS.has(key) || child === null || typeof child !== 'object') continue;
    visit(child as AstNode, atRoot && !ITEM_CONTEXT_KEYS.has(key), into);
  }
}

function visitPath(steps: AstNode[], atRoot: boolean, into: Set<string>): void {
  const first = steps[0];
  // `$$.x` reads x from the root scope wherever it appears.
  const explicitRoot = first?.type === 'variable' && first.value === '$';
  steps.forEach((step, index) => {
    if (index === 1 && explicitRoot && step.type === 'name' && typeof step.value === 'string') {
      into.add(step.value);
      visitItemContext(step, into);
      return;
    }
    visit(step, atRoot && index === 0, into);
  });
}

function visitItemContext(node: AstNode, into: Set<string>): void {
  for (const key of ITEM_CONTEXT_KEYS) {
    const child = node[key];
    if (child !== undefined && child !== null && typeof child === 'object') visit(child as AstNode, false, into);
  }
}
