// The contract of a workflow written in TypeScript (docs/custom-workflows.md): what its file
// default-exports (a name and triggers, checked at load) and what `run` may return (checked after
// every run), and how a result changes the issue. Pure: the sandbox that runs the code is in
// lib/adapters/sandbox, the stage that drives it in lib/stages/workflows.
import * as z from 'zod';
import { Trigger } from './config/schema.ts';
import {
  type Block,
  type Enrichment,
  FileBlock,
  type Issue,
  JsonBlock,
  LinksBlock,
  ListBlock,
  MarkdownBlock,
  Severity,
  TableBlock,
} from './issue.ts';

/** What a workflow file default-exports, less `run` (a function never leaves the sandbox). */
export const CodeWorkflowDefinition = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'expected a lowercase name of letters, digits and dashes'),
  triggers: z.array(Trigger).min(1),
});
export type CodeWorkflowDefinition = z.infer<typeof CodeWorkflowDefinition>;

/** The blocks a workflow may add: the Issue's own, less header and divider. */
export const WorkflowBlock = z.discriminatedUnion('type', [
  MarkdownBlock,
  TableBlock,
  ListBlock,
  JsonBlock,
  LinksBlock,
  FileBlock,
]);

const SlackId = z.string().regex(/^[A-Z][A-Z0-9]{2,}$/);

/** What `run` returns: nothing, "drop", or any of blocks, mentions and a new severity. */
export const CodeWorkflowResult = z.union([
  z.literal('drop'),
  z.undefined(),
  z.null(),
  z.strictObject({
    title: z.string().max(200).optional(),
    verdict: z.string().max(500).optional(),
    blocks: z.array(WorkflowBlock).max(20).optional(),
    mentions: z
      .strictObject({
        users: z.array(SlackId).max(20).default([]),
        groups: z.array(SlackId).max(20).default([]),
      })
      .optional(),
    severity: Severity.optional(),
  }),
]);
export type CodeWorkflowResult = z.infer<typeof CodeWorkflowResult>;

export const ENRICHMENT_SOURCE_PREFIX = 'workflow:';
/** The enrichment that carries one line per workflow that failed on this issue. */
export const NOTES_SOURCE = 'run-workflows';

export interface Applied {
  issue: Issue;
  /** Mention IDs the configuration does not allow, left out. */
  refused: string[];
}

/**
 * The issue after one workflow's result. Blocks become an enrichment of their own (a redelivery
 * replaces it); mentions are kept only when the configuration lists them; severity is set.
 */
export function applyResult(
  issue: Issue,
  name: string,
  result: Exclude<CodeWorkflowResult, 'drop' | undefined | null>,
  allowedIds: ReadonlySet<string>,
): Applied {
  const source = `${ENRICHMENT_SOURCE_PREFIX}${name}`;
  let next: Issue = { ...issue, enrichments: issue.enrichments.filter((e) => e.source !== source) };
  if (result.blocks && result.blocks.length > 0) {
    const enrichment: Enrichment = { source, title: result.title ?? name, blocks: result.blocks as Block[] };
    if (result.verdict !== undefined) enrichment.verdict = result.verdict;
    next.enrichments = [...next.enrichments, enrichment];
  }
  if (result.severity !== undefined) next = { ...next, severity: result.severity };
  const refused: string[] = [];
  if (result.mentions) {
    const keep = (ids: string[]) => {
      for (const id of ids) if (!allowedIds.has(id)) refused.push(id);
      return ids.filter((id) => allowedIds.has(id));
    };
    const users = keep(result.mentions.users);
    const groups = keep(result.mentions.groups);
    if (users.length + groups.length > 0) {
      const had = next.actions?.mentions ?? { users: [], groups: [] };
      next = {
        ...next,
        actions: {
          ...next.actions,
          mentions: {
            users: [...new Set([...had.users, ...users])],
            groups: [...new Set([...had.groups, ...groups])],
          },
        },
      };
    }
  }
  return { issue: next, refused };
}

/** One line per failed workflow, as the issue's notes enrichment (replacing an earlier one). */
export function withNotes(issue: Issue, notes: readonly string[]): Issue {
  const enrichments = issue.enrichments.filter((e) => e.source !== NOTES_SOURCE);
  if (notes.length === 0) return { ...issue, enrichments };
  const note: Enrichment = {
    source: NOTES_SOURCE,
    title: 'Custom workflows',
    blocks: [{ type: 'list', items: [...notes] }],
  };
  return { ...issue, enrichments: [...enrichments, note] };
}
