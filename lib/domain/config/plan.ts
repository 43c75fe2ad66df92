// Ingest-time decisions: is the issue silenced, which built-in and custom workflow actions
// apply, which stages it must visit, and the enrichments that need no cluster (default,
// template, explanation). The decisions travel with the issue to the enrichers and dispatcher.

import { own } from '../../platform/own.ts';
import type { Actions, Block, Enrichment, Issue } from '../issue.ts';
import { hasMetricsParts, metricsParts } from '../metrics.ts';
import { planFor } from '../routing.ts';
import { EXPLANATIONS } from './explanations.ts';
import { workflowTriggerMatches } from './match.ts';
import type { Action, Config } from './schema.ts';
import { silencedBy } from './silence.ts';

export type PlanResult = { silenced: string; issue?: undefined } | { silenced?: undefined; issue: Issue };

/** Annotations the root already shows; the default enricher lists the rest. */
const SHOWN = new Set(['summary', 'description', 'message', 'runbook_url', 'runbook']);

/** `{{labels.x}}`, `{{annotations.y}}`, `{{subject.name}}`, `{{title}}`, `{{severity}}`, `{{status}}`, `{{cluster}}`. */
export function renderTemplate(template: string, issue: Issue): string {
  return template.replace(
    /\{\{\s*([a-zA-Z_][\w]*)(?:\.([\w.-]+))?\s*\}\}/g,
    (_m, head: string, key?: string) => {
      switch (head) {
        case 'labels':
          return key ? (issue.labels[key] ?? '') : '';
        case 'annotations':
          return key ? (issue.annotations[key] ?? '') : '';
        case 'subject':
          return key ? String((issue.subject as Record<string, unknown>)[key] ?? '') : '';
        case 'title':
        case 'severity':
        case 'status':
        case 'cluster':
        case 'fingerprint':
          return String(issue[head] ?? '');
        default:
          return '';
      }
    },
  );
}

function defaultEnrichment(issue: Issue): Enrichment | undefined {
  const rows = Object.keys(issue.annotations)
    .filter((k) => !SHOWN.has(k))
    .sort()
    .map((k) => [k, issue.annotations[k] ?? '']);
  if (rows.length === 0) return undefined;
  return {
    source: 'default',
    title: 'Annotations',
    blocks: [{ type: 'table', headers: ['annotation', 'value'], rows }],
  };
}

function explanationEnrichment(issue: Issue, config: Config): Enrichment | undefined {
  const name = issue.labels.alertname;
  if (!name) return undefined;
  const e = own(config.workflows.alertEnrichment.alertExplanation.overrides, name) ?? own(EXPLANATIONS, name);
  if (!e) return undefined;
  const blocks: Block[] = [{ type: 'markdown', text: e.explanation }];
  if (e.nextSteps.length) blocks.push({ type: 'list', title: 'Next steps', items: e.nextSteps });
  return { source: 'explanation', title: `About ${name}`, blocks };
}

function templateEnrichment(text: string, issue: Issue, title?: string): Enrichment {
  return {
    source: 'template',
    title: title ?? 'Notes',
    blocks: [{ type: 'markdown', text: renderTemplate(text, issue) }],
  };
}

function mentionsFor(action: Extract<Action, { mention: unknown }>['mention'], issue: Issue, into: Actions) {
  const users = new Set(into.mentions?.users ?? []);
  const groups = new Set(into.mentions?.groups ?? []);
  for (const u of action.users) users.add(u);
  for (const g of action.groups) groups.add(g);
  const value = action.fromLabel ? issue.labels[action.fromLabel] : undefined;
  // Only IDs the operator configured: a label can choose among them, never name a new one.
  for (const id of value !== undefined ? (action.map[value] ?? []) : [])
    (id.startsWith('S') ? groups : users).add(id);
  into.mentions = { users: [...users], groups: [...groups] };
}

/**
 * A workflow's nodeStatus action: enrich-node runs for the issue, with its status section, even
 * where workflows.nodeHealth switched node status off for everything else.
 */
function nodeStatusOn(actions: Actions): void {
  actions.nodeStatus = true;
  if (actions.nodeSections?.status === false) {
    const { status: _off, ...rest } = actions.nodeSections;
    if (Object.keys(rest).length > 0) actions.nodeSections = rest;
    else delete actions.nodeSections;
  }
}

/** Applies the configuration to a freshly mapped issue. */
export function planIssue(issue: Issue, config: Config, opts: { now?: Date } = {}): PlanResult {
  const silenced = silencedBy(config.silences, issue, opts.now);
  if (silenced) return { silenced };
  const wf = config.workflows;
  const actions: Actions = {};
  if (!wf.podTroubleshooting.podInvestigator.enabled) actions.podInvestigator = false;
  if (!wf.podTroubleshooting.podEvents.enabled) actions.podEvents = false;
  actions.podLogs = wf.podTroubleshooting.podLogs.enabled
    ? { tail: wf.podTroubleshooting.podLogs.tailLines }
    : false;
  if (
    !(
      wf.nodeHealth.nodeStatus.enabled ||
      wf.nodeHealth.nodeAllocatable.enabled ||
      wf.nodeHealth.nodeRunningPods.enabled
    )
  ) {
    actions.nodeStatus = false;
  }
  const pt = wf.podTroubleshooting;
  const disabled = [
    ...(pt.imagePullBackoff.enabled ? [] : (['imagePullBackoff'] as const)),
    ...(pt.evicted.enabled ? [] : (['evicted'] as const)),
    ...(pt.pending.enabled ? [] : (['pending'] as const)),
    ...(wf.oomKiller.podOomKillerEnricher.enabled ? [] : (['oomKiller'] as const)),
  ];
  if (disabled.length) actions.disabledDiagnoses = disabled;
  if (!wf.oomKiller.podOomKillerEnricher.attachLogs) actions.attachOomLogs = false;
  const nh = wf.nodeHealth;
  if (!nh.nodeStatus.enabled || !nh.nodeAllocatable.enabled || !nh.nodeRunningPods.enabled) {
    actions.nodeSections = {
      ...(nh.nodeStatus.enabled ? {} : { status: false }),
      ...(nh.nodeAllocatable.enabled ? {} : { allocatable: false }),
      ...(nh.nodeRunningPods.enabled ? {} : { runningPods: false }),
    };
  }
  const enrichments: Enrichment[] = [];
  const add = (e: Enrichment | undefined) => {
    if (e && !enrichments.some((x) => x.source === e.source && x.title === e.title)) enrichments.push(e);
  };
  if (issue.type === 'alert') {
    const ae = wf.alertEnrichment;
    if (ae.defaultEnricher.enabled && ae.defaultEnricher.alertAnnotationsEnrichment)
      add(defaultEnrichment(issue));
    if (ae.alertExplanation.enabled) add(explanationEnrichment(issue, config));
    if (ae.template.enabled && ae.template.text) add(templateEnrichment(ae.template.text, issue));
  }
  const matched: string[] = [];
  for (const w of config.customWorkflows) {
    if (!w.triggers.some((t) => workflowTriggerMatches(t, issue))) continue;
    matched.push(w.name);
    for (const a of w.actions) {
      if ('podLogs' in a) {
        const p: { tail?: number; previous?: boolean; container?: string } = {};
        if (a.podLogs.tail !== undefined) p.tail = a.podLogs.tail;
        if (a.podLogs.previous !== undefined) p.previous = a.podLogs.previous;
        if (a.podLogs.container !== undefined) p.container = a.podLogs.container;
        actions.podLogs = p;
      } else if ('podInvestigator' in a) actions.podInvestigator = true;
      else if ('nodeStatus' in a) nodeStatusOn(actions);
      else if ('template' in a) add(templateEnrichment(a.template.text, issue, a.template.title));
      else if ('mention' in a) mentionsFor(a.mention, issue, actions);
      else if ('explanation' in a) add(explanationEnrichment(issue, config));
      else if ('graph' in a) graphFor(a.graph, actions);
    }
    if (w.stop) break;
  }
  if (matched.length) actions.workflows = matched;
  const planned: Issue = { ...issue, enrichments: [...issue.enrichments, ...enrichments], actions };
  if (config.prometheus.enabled) actions.metrics = true;
  const metrics = config.prometheus.enabled && hasMetricsParts(metricsParts(planned));
  if (!config.prometheus.enabled) delete actions.graphs;
  planned.plan = planFor(planned.subject, {
    status: planned.status,
    actions,
    metrics,
    workflows: config.codeWorkflows.directory !== undefined,
  });
  return { issue: planned };
}

/** A custom workflow's graph, kept on the issue for enrich-metrics (at most 10 an issue). */
function graphFor(g: Extract<Action, { graph: unknown }>['graph'], actions: Actions): void {
  const graphs = actions.graphs ?? [];
  if (graphs.length >= 10) return;
  graphs.push({ query: g.query, unit: g.unit, seconds: g.duration, ...(g.title ? { title: g.title } : {}) });
  actions.graphs = graphs;
}
