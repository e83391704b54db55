import { defineNodeType } from '@flowpilot/engine';
import { z } from 'zod';

/** `subworkflow`: runs another workflow as a child run and outputs its output. */
export const subworkflowNode = defineNodeType({
  type: 'subworkflow',
  title: 'Sub-workflow',
  description: "Runs another workflow (by file, relative to this workflow's file, or by id) as a child run; outputs its output.",
  category: 'flow',
  params: z
    .object({
      file: z.string().min(1).optional().describe("Path relative to the parent workflow's file."),
      workflowId: z.string().min(1).optional(),
      version: z.number().int().min(1).optional(),
      input: z.unknown().optional().describe("The child run's input; may use {{ }}."),
    })
    .refine((params) => (params.file === undefined) !== (params.workflowId === undefined), {
      message: 'set exactly one of "file" or "workflowId"',
    }),
  execute(ctx) {
    const { file, workflowId, version, input } = ctx.params;
    return ctx.runWorkflow({ file, workflowId, version }, input ?? {});
  },
});
