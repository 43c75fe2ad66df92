// Shared shape of the enricher functions: take an issue event, add one Enrichment, advance
// the plan and reply with the enriched event. A cluster problem never stops the issue.
import type { CloudEvent } from 'cloudevents';
import { EnricherEnv, parseEnv } from './env.ts';
import { BadRequestError } from './errors.ts';
import { issueEvent, parseIssueData } from './events.ts';
import { advancePlan, type Enrichment, type Issue, type Stage, withStage } from './issue.ts';
import type { KubeReader } from './k8s/api.ts';
import { createKubeReaderFromEnv } from './k8s/client.ts';
import type { FunctionModule, InvocationContext } from './runtime/types.ts';

export interface EnricherSettings {
  logTailLines: number;
  logLimitBytes: number;
  timeBudgetMs: number;
}

export interface EnricherSpec {
  name: string;
  stage: Stage;
  enrich(issue: Issue, kube: KubeReader | undefined, settings: EnricherSettings): Promise<Enrichment>;
  /** Stages this enricher's findings add to the plan (e.g. a pod on an unhealthy node). */
  nextStages?(issue: Issue, enrichment: Enrichment): Stage[];
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
      };
      if (c.CLUSTER_NAME) source = `/kubeincident/${encodeURIComponent(c.CLUSTER_NAME)}/${spec.name}`;
      kube = await createKubeReaderFromEnv({ env, timeoutMs: c.KUBE_TIMEOUT_MS });
    },
    async handle(ctx: InvocationContext, event: CloudEvent<unknown> | undefined) {
      if (!event) throw new BadRequestError('expected an issue CloudEvent');
      const issue = parseIssueData(event.data);
      const enrichment = await spec.enrich(issue, kube, settings);
      let plan = advancePlan(issue.plan, spec.stage);
      for (const s of spec.nextStages?.(issue, enrichment) ?? []) plan = withStage(plan, s, spec.stage);
      const enriched: Issue = {
        ...issue,
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
