// run-workflows: the stage between the enrichers and dispatch that runs the operator's
// TypeScript workflows (docs/custom-workflows.md) on each issue, in the QuickJS sandbox, and
// replies with the issue they changed, or with nothing when one of them dropped it.
import type { CloudEvent } from 'cloudevents';
import { createKubeReaderFromEnv } from '../../adapters/k8s/client.ts';
import { prometheusFromConfig } from '../../adapters/prometheus/from-config.ts';
import { createWorkerSandbox } from '../../adapters/sandbox/worker-sandbox.ts';
import { type ConfigSource, openFunctionConfig } from '../../domain/config/index.ts';
import { issueEvent, parseIssueData } from '../../domain/events.ts';
import { advancePlan, type Issue } from '../../domain/issue.ts';
import type { KubeReader } from '../../domain/kube.ts';
import { BadRequestError } from '../../platform/errors.ts';
import { createLogger, type Logger } from '../../platform/logger.ts';
import { defaultRegistry } from '../../platform/runtime/metrics.ts';
import type { FunctionModule, InvocationContext } from '../../platform/runtime/types.ts';
import { parseEnv, WorkflowsEnv } from '../env.ts';
import { type Catalog, openCatalog } from './catalog.ts';
import type { HostDeps } from './host.ts';
import { type RunSettings, runWorkflows } from './run.ts';

const NAME = 'run-workflows';

export function createWorkflowsFunction(env: NodeJS.ProcessEnv = process.env): FunctionModule {
  let log: Logger;
  let config: ConfigSource;
  let catalog: Catalog | undefined;
  let catalogDir: string | undefined;
  let kube: KubeReader | undefined;
  let deps: Omit<HostDeps, 'allowHosts' | 'prometheus'>;
  // The config's `prometheus:` section, as enrich-metrics reads it; rebuilt in init.
  let promFor = prometheusFromConfig(undefined);
  let pollMs: number;
  let source = `/kubeincident/${NAME}`;
  // On a worker thread: a workflow spinning to its deadline never holds this function's other requests.
  const sandbox = createWorkerSandbox();
  const runs = defaultRegistry.counter(
    'kubeincident_workflow_runs_total',
    'Workflow runs, by workflow and outcome.',
  );
  const loadErrors = defaultRegistry.counter(
    'kubeincident_workflow_load_errors_total',
    'Workflow files that failed to compile or define a workflow, by file.',
  );
  const took = defaultRegistry.histogram(
    'kubeincident_workflow_run_seconds',
    'Time of one workflow run.',
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
  );

  /** Opens (or swaps) the catalog when the config names a different directory. */
  const syncCatalog = async () => {
    const dir = config.current().codeWorkflows.directory;
    if (dir === catalogDir) return;
    catalog?.close();
    catalog = undefined;
    catalogDir = dir;
    if (dir === undefined) return;
    catalog = await openCatalog({
      directory: dir,
      sandbox,
      log,
      pollMs,
      onProblem: (p) => loadErrors.inc({ file: p.file }),
    });
  };

  return {
    async init() {
      const c = parseEnv(WorkflowsEnv, env);
      log = createLogger({ name: NAME, level: c.LOG_LEVEL });
      if (c.CLUSTER_NAME) source = `/kubeincident/${encodeURIComponent(c.CLUSTER_NAME)}/${NAME}`;
      pollMs = c.CONFIG_POLL_MS;
      promFor = prometheusFromConfig(c.PROMETHEUS_URL, c.WORKFLOW_CALL_TIMEOUT_MS);
      config = await openFunctionConfig(c, env, log);
      // The workflows load (the worker's start, the engine's compile) while the cluster client does.
      const [reader] = await Promise.all([
        createKubeReaderFromEnv({ env, timeoutMs: c.KUBE_TIMEOUT_MS }),
        syncCatalog(),
      ]);
      kube = reader;
      const apiHosts = [env.KUBERNETES_SERVICE_HOST, env.KUBERNETES_PORT_443_TCP_ADDR].filter(
        (h): h is string => typeof h === 'string' && h.length > 0,
      );
      deps = {
        kube,
        fetchPolicy: {
          allowLoopback: false,
          apiServer: { hosts: apiHosts },
          timeoutMs: c.WORKFLOW_CALL_TIMEOUT_MS,
          maxBodyBytes: 1024 * 1024,
        },
        log,
      };
      config.onChange(() => void syncCatalog());
    },
    async handle(ctx: InvocationContext, event: CloudEvent<unknown> | undefined) {
      if (!event) throw new BadRequestError('expected an issue CloudEvent');
      const issue = parseIssueData(event.data);
      const current = config.current();
      const cw = current.codeWorkflows;
      const settings: RunSettings = {
        limits: {
          timeoutMs: cw.timeoutMs,
          memoryBytes: cw.memoryMiB * 1048576,
          resultBytes: cw.resultKiB * 1024,
        },
        mentionIds: new Set(cw.mentionIds),
        allowHosts: cw.allowHosts,
      };
      const workflows = catalog?.current() ?? [];
      const result = await runWorkflows(
        issue,
        workflows,
        sandbox,
        {
          ...deps,
          prometheus: promFor(current.prometheus),
          fetchPolicy: { ...deps.fetchPolicy, allowLoopback: cw.allowLoopback },
        },
        settings,
      );
      for (const r of result.records) {
        runs.inc({ workflow: r.workflow, outcome: r.outcome });
        took.observe(r.ms / 1000);
        if (r.note)
          ctx.log.warn({ fingerprint: issue.fingerprint, workflow: r.workflow, outcome: r.outcome }, r.note);
      }
      if (result.droppedBy !== undefined) {
        ctx.log.info({ fingerprint: issue.fingerprint, workflow: result.droppedBy }, 'dropped by a workflow');
        return undefined;
      }
      const plan = advancePlan(issue.plan, 'workflows');
      const next: Issue = { ...result.issue, plan: plan.length ? plan : ['dispatch'] };
      ctx.log.info(
        {
          fingerprint: issue.fingerprint,
          workflows: result.records.map((r) => `${r.workflow}:${r.outcome}`),
        },
        'workflows ran',
      );
      return issueEvent(next, source, ctx.traceparent, 'workflows');
    },
    async shutdown() {
      catalog?.close();
      config?.close();
      await sandbox.close();
    },
  };
}
