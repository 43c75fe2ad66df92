// End to end through `npm start`'s pipeline: a TypeScript workflow file in the configured
// directory adds its block to the Slack thread of a real alert, its mention reaches the root
// message, and editing the file changes the next message without restarting anything.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { startKubeStandin } from './support/kube-standin.ts';
import { eventually, type RunningPipeline, startPipeline } from './support/pipeline.ts';
import { startSlackStandin } from './support/slack-standin.ts';

const workflow = (version: string) => `import type { Workflow } from '../sdk/workflow';
const owner: Workflow = {
  name: 'owner-note',
  triggers: [{ on: 'alert', namespace: 'payments' }],
  async run(issue, ctx) {
    const ns = await ctx.k8s.get({ kind: 'Namespace', name: issue.subject.namespace ?? '' });
    const team = ns.metadata?.annotations?.['kubeincident.dev/owner-team'] ?? 'nobody';
    return {
      blocks: [{ type: 'markdown', text: 'Owner ${version}: ' + team }],
      mentions: { groups: ['S0PAYONCALL'] },
    };
  },
};
export default owner;
`;

const webhook = (alertname: string, fingerprint: string) =>
  JSON.stringify({
    version: '4',
    status: 'firing',
    receiver: 'kubeincident',
    groupKey: '{}:{}',
    externalURL: 'http://alertmanager.example:9093',
    alerts: [
      {
        status: 'firing',
        labels: { alertname, namespace: 'payments', service: 'ledger', severity: 'critical' },
        annotations: { summary: `${alertname} in payments` },
        startsAt: new Date(Date.now() - 60_000).toISOString(),
        endsAt: '0001-01-01T00:00:00Z',
        fingerprint,
      },
    ],
  });

test('e2e: a workflow file adds its block and mention to the Slack thread, and an edit changes the next message without a restart', async (t) => {
  let pipeline: RunningPipeline | undefined;
  const stops: Array<() => Promise<void>> = [];
  t.teardown(async () => {
    await pipeline?.stop();
    await Promise.allSettled(stops.map((s) => s()));
  });
  const slack = await startSlackStandin({ channels: ['C0ALERTS'] });
  stops.push(() => slack.close());
  const kube = await startKubeStandin();
  stops.push(() => kube.close());
  const dir = await mkdtemp(join(tmpdir(), 'e2e-workflows-'));
  stops.push(() => rm(dir, { recursive: true, force: true }));
  const wfDir = join(dir, 'workflows');
  await mkdir(wfDir);
  const file = join(wfDir, 'owner.ts');
  await writeFile(file, workflow('v1'));
  const configFile = join(dir, 'config.yaml');
  await writeFile(configFile, `codeWorkflows:\n  directory: ${wfDir}\n  mentionIds: [S0PAYONCALL]\n`);
  pipeline = await startPipeline({
    CONFIG_FILE: configFile,
    CONFIG_POLL_MS: '300',
    SLACK_BOT_TOKEN: slack.token,
    SLACK_CHANNEL: 'C0ALERTS',
    SLACK_API_URL: slack.url,
    KUBECONFIG: kube.kubeconfigPath,
    DEAD_LETTER_FILE: join(dir, 'dead.jsonl'),
  });
  const running = pipeline;
  const pidsBefore = await running.pids();
  const post = async (alertname: string, fingerprint: string) => {
    const res = await fetch(running.webhook, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: webhook(alertname, fingerprint),
    });
    t.is(res.status, 200);
  };
  const roots = () => (slack.messages.get('C0ALERTS') ?? []).filter((m) => !m.thread_ts);
  const detailsOf = async (ts: string) =>
    JSON.stringify((await eventually('details reply', () => slack.replies('C0ALERTS', ts)[0])).attachments);

  await post('LedgerLatencyHigh', 'e2ewf0001');
  const first = await eventually('first root', () => roots()[0]).catch((err) => {
    t.log(running.output().slice(-5000));
    throw err;
  });
  t.regex(first.text ?? '', /<!subteam\^S0PAYONCALL>/, 'the workflow mention, from the configured IDs');
  t.regex(await detailsOf(first.ts), /Owner v1: payments-oncall/);

  await writeFile(file, workflow('v2'));
  await eventually(
    'the edited workflow loaded',
    () => (running.output().split('"workflows loaded"').length > 2 ? true : undefined),
    20_000,
  );
  await post('LedgerErrorsHigh', 'e2ewf0002');
  const second = await eventually('second root', () => roots()[1]);
  const secondDetails = await detailsOf(second.ts);
  t.regex(secondDetails, /Owner v2: payments-oncall/);
  t.notRegex(secondDetails, /Owner v1/);
  t.deepEqual(await running.pids(), pidsBefore, 'no function restarted');
});
