/**
 * @flowpilot/nodes — the built-in node types. Each is one module: metadata, a zod params schema,
 * handles and `execute(ctx)`.
 */
import { NodeRegistry, type NodeType } from '@flowpilot/engine';
import { delayNode } from './delay.js';
import { failNode } from './fail.js';
import { forEachNode } from './for-each.js';
import { httpNode } from './http.js';
import { ifNode } from './if.js';
import { inputNode } from './input.js';
import { loopNode } from './loop.js';
import { mergeNode } from './merge.js';
import { noopNode } from './noop.js';
import { outputNode } from './output.js';
import { setNode } from './set.js';
import { subworkflowNode } from './subworkflow.js';
import { switchNode } from './switch.js';
import { manualNode, respondNode, scheduleNode, webhookNode } from './triggers.js';

/** Every built-in node type. */
export const builtinNodeTypes: readonly NodeType[] = [
  inputNode,
  setNode,
  ifNode,
  switchNode,
  mergeNode,
  forEachNode,
  loopNode,
  subworkflowNode,
  delayNode,
  noopNode,
  failNode,
  outputNode,
  httpNode,
  webhookNode,
  scheduleNode,
  manualNode,
  respondNode,
];

/** A registry holding the built-in node types (add your own with `register`). */
export function createBuiltinRegistry(): NodeRegistry {
  return new NodeRegistry(builtinNodeTypes);
}

export { checkAgainstSchema } from './input.js';
export { HttpStatusError } from './http.js';
export { isValidCron, WEBHOOK_PATH_PATTERN, manualNode, respondNode, scheduleNode, webhookNode } from './triggers.js';
export { delayNode, failNode, forEachNode, httpNode, ifNode, inputNode, loopNode, mergeNode, noopNode, outputNode, setNode, subworkflowNode, switchNode };
