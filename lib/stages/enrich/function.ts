// Shared shape of the enricher functions: take an issue event, add one Enrichment, record what
// was learned about the subject, advance the plan and reply with the enriched event. A cluster
// problem never stops the issue.
import type { CloudEvent } from 'cloudevents';
import { createKubeReaderFromEnv } from '../../adapters/k8s/client.ts';
import { compileRedactPatterns } from '../../domain/diagnose/redact.ts';
import { issueEvent, parseIssueData } from '../../domain/events.ts';
import { fitEnrichment } from '../../domain/fit.ts';
import { advancePlan, type Issue, type Stage, Subject, withStage } from '../../domain/issue.ts';
import type { KubeReader } from '../../domain/kube.ts';
import type { EnrichResult } from '../../domain/routing.ts';
import { BadRequestError } from '../../platform/errors.ts';
import type { FunctionModule, InvocationContext } from '../../platform/runtime/types.ts';
import { EnricherEnv, parseEnv } from '../env.ts';

export type { EnrichResult };

export interface EnricherSettings {
  logTailLines: number;
  logLimitBytes: number;
  timeBudgetMs: number;
  eventLimit: number;
  podLimit: number;
  /** ROLLOUT_WINDOW_MINUTES in ms. */
  rolloutWindowMs: number;
  /** Built-in secret patterns plus LOG_REDACT_PATTERNS, compiled once at start. */
  redactPatterns: readonly RegExp[];
}

export interface EnricherSpec {
  name: string;
  stage: Stage;
  enrich(issue: Issue, kube: KubeReader | undefined, settings: EnricherSettings): Promise<EnrichResult>;
  /**
   * Stages this enricher's findings add to the plan (e.g. a pod on an unhealthy node). Stages
   * only move forward (withStage refuses earlier ones), so no Trigger can loop.
   */
  nextStages?(issue: Issue, result: EnrichResult): Stage[];
}

export function createEnricherFunction(
  spec: EnricherSpec,
  env: NodeJS.ProcessEnv = process.env,
): FunctionModule {
  let kube: KubeReader | undefined;
  let settings: EnricherSettings;
  let source = `/kubeincident/${spec.name}`;
  return {
    async init() {
      const c = parseEnv(EnricherEnv, env);
      settings = {
        logTailLines: c.LOG_TAIL_LINES,
        logLimitBytes: c.LOG_LIMIT_BYTES,
        timeBudgetMs: c.ENRICH_BUDGET_MS,
        eventLimit: c.EVENT_LIMIT,
        podLimit: c.POD_LIMIT,
        rolloutWindowMs: c.ROLLOUT_WINDOW_MINUTES * 60_000,
        redactPatterns: compileRedactPatterns(c.LOG_REDACT_PATTERNS),
      };
      if (c.CLUSTER_NAME) source = `/kubeincident/${encodeURIComponent(c.CLUSTER_NAME)}/${spec.name}`;
      kube = await createKubeReaderFromEnv({ env, timeoutMs: c.KUBE_TIMEOUT_MS });
    },
    async handle(ctx: InvocationContext, event: CloudEvent<unknown> | undefined) {
      if (!event) throw new BadRequestError('expected an issue CloudEvent');
      const issue = parseIssueData(event.data);
      const result = await spec.enrich(issue, kube, settings);
      // At most ISSUE_LIMITS.enrichmentBytes, so the enriched event still fits every later stage
      // whatever LOG_LIMIT_BYTES or a workflow's tail asked for (logs keep their end).
      const enrichment = fitEnrichment(result.enrichment);
      let plan = advancePlan(issue.plan, spec.stage);
      for (const s of spec.nextStages?.(issue, result) ?? []) plan = withStage(plan, s, spec.stage);
      // What the enricher learned (the pod's node) must still fit the Issue schema.
      const learned = result.subject ? Subject.safeParse(result.subject) : undefined;
      const enriched: Issue = {
        ...issue,
        ...(learned?.success ? { subject: learned.data } : {}),
        // A redelivery replaces this stage's earlier enrichment instead of stacking a second one.
        enrichments: [...issue.enrichments.filter((e) => e.source !== spec.name), enrichment],
        plan: plan.length ? plan : ['dispatch'],
      };
      ctx.log.info(
        { fingerprint: issue.fingerprint, verdict: enrichment.verdict, next: enriched.plan[0] },
        'enriched',
      );
      return issueEvent(enriched, source, ctx.traceparent, spec.stage);
    },
  };
}
