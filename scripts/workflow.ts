// `npm run workflow -- test file.ts issue.json`: runs one workflow file against a recorded issue
// the way run-workflows would (same sandbox, limits and ctx) and prints what it returns and the
// issue it makes, as JSON. Reads the cluster from KUBECONFIG (or none), and Prometheus (its
// `prometheus:` section, PROMETHEUS_URL as the fallback URL), limits, mention IDs and allowed
// hosts from CONFIG_FILE when set.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { createKubeReaderFromEnv } from '../lib/adapters/k8s/client.ts';
import { prometheusFromConfig } from '../lib/adapters/prometheus/from-config.ts';
import { createEnginePool } from '../lib/adapters/sandbox/engine.ts';
import { inProcessSandbox } from '../lib/adapters/sandbox/sandbox.ts';
import { applyResult } from '../lib/domain/code-workflow.ts';
import { openConfig } from '../lib/domain/config/load.ts';
import { workflowTriggerMatches } from '../lib/domain/config/match.ts';
import { parseIssueData } from '../lib/domain/events.ts';
import { createLogger } from '../lib/platform/logger.ts';
import { loadWorkflowFile } from '../lib/stages/workflows/catalog.ts';
import { runWorkflow } from '../lib/stages/workflows/run.ts';

const USAGE = 'usage: npm run workflow -- test <workflow.ts> <issue.json>';

export async function testWorkflow(
  file: string,
  issueFile: string,
  env: NodeJS.ProcessEnv,
): Promise<unknown> {
  const sandbox = inProcessSandbox(createEnginePool());
  const loaded = await loadWorkflowFile(basename(file), await readFile(file, 'utf8'), sandbox);
  if ('problem' in loaded) return { file: loaded.file, loaded: false, problem: loaded.problem };
  const issue = parseIssueData(JSON.parse(await readFile(issueFile, 'utf8')));
  const whole = (await openConfig({ file: env.CONFIG_FILE || undefined, env })).current();
  const config = whole.codeWorkflows;
  const prometheus = prometheusFromConfig(env.PROMETHEUS_URL || undefined, 5000)(whole.prometheus);
  const matched = loaded.triggers.some((t) => workflowTriggerMatches(t, issue));
  const log = createLogger({ name: 'workflow', level: 'info', destination: process.stderr });
  const kube = await createKubeReaderFromEnv({ env, timeoutMs: 5000 });
  const { record, result } = await runWorkflow(
    loaded,
    issue,
    sandbox,
    {
      kube,
      prometheus,
      fetchPolicy: {
        allowLoopback: config.allowLoopback,
        apiServer: { hosts: [] },
        timeoutMs: 5000,
        maxBodyBytes: 1 << 20,
      },
      log,
    },
    {
      limits: {
        timeoutMs: config.timeoutMs,
        memoryBytes: config.memoryMiB << 20,
        resultBytes: config.resultKiB << 10,
      },
      mentionIds: new Set(config.mentionIds),
      allowHosts: config.allowHosts,
    },
    new Date(),
  );
  const applied =
    result && result !== 'drop'
      ? applyResult(issue, loaded.name, result, new Set(config.mentionIds))
      : undefined;
  return {
    workflow: loaded.name,
    // run-workflows runs it only when a trigger matches; this command runs it regardless.
    triggersMatch: matched,
    outcome: record.outcome,
    ms: Math.round(record.ms),
    ...(record.note ? { note: record.note } : {}),
    returned: result ?? null,
    ...(applied
      ? {
          severity: applied.issue.severity,
          mentions: applied.issue.actions?.mentions ?? null,
          refusedMentions: applied.refused,
          enrichment: applied.issue.enrichments.find((e) => e.source === `workflow:${loaded.name}`) ?? null,
        }
      : {}),
  };
}

if (import.meta.main) {
  const [cmd, file, issueFile] = process.argv.slice(2);
  if (cmd !== 'test' || !file || !issueFile) {
    console.error(USAGE);
    process.exit(2);
  }
  const out = (await testWorkflow(file, issueFile, process.env)) as { outcome?: string; loaded?: boolean };
  console.log(JSON.stringify(out, null, 2));
  process.exit(out.loaded === false || (out.outcome !== 'ok' && out.outcome !== 'drop') ? 1 : 0);
}
