// The two workflows docs/custom-workflows.md shows, run as run-workflows runs them (the
// namespace read from the stand-in API server), and `npm run workflow -- test` on them.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { createKubeReader } from '../lib/adapters/k8s/client.ts';
import { Issue } from '../lib/domain/issue.ts';
import type { KubeReader } from '../lib/domain/kube.ts';
import { type KubeStandin, startKubeStandin } from './support/kube-standin.ts';
import { notesOf, runSources } from './support/workflows.ts';

const ROOT = resolve(import.meta.dirname, '..');
const EXAMPLES = join(ROOT, 'docs/examples/workflows');
const source = (name: string) => readFile(join(EXAMPLES, name), 'utf8');
const recorded = async () => Issue.parse(JSON.parse(await readFile(join(EXAMPLES, 'issue.json'), 'utf8')));
const run = promisify(execFile);

let kube: KubeStandin;
let reader: KubeReader;
test.before(async () => {
  kube = await startKubeStandin();
  reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath, timeoutMs: 10_000 });
});
test.after.always(() => kube?.close());

test('examples: dashboard-link links the dashboard its service label names, else the namespace overview', async (t) => {
  const issue = await recorded();
  const r = await runSources(issue, [await source('dashboard-link.ts')]);
  t.deepEqual(r.issue.enrichments.at(-1), {
    source: 'workflow:dashboard-link',
    title: 'Dashboard',
    blocks: [
      {
        type: 'links',
        links: [
          {
            type: 'graph',
            title: 'Ledger SLOs',
            url: 'https://grafana.example.com/d/ledger-slo?var-namespace=payments',
          },
        ],
      },
    ],
  });
  const other = { ...issue, labels: { ...issue.labels, service: 'search' } };
  const r2 = await runSources(other, [await source('dashboard-link.ts')]);
  const links = r2.issue.enrichments.at(-1)?.blocks[0];
  t.like(links, { type: 'links', links: [{ title: 'Namespace payments' }] });
});

test('examples: page-owner mentions the on-call group of the team the namespace annotation names', async (t) => {
  const issue = await recorded();
  const r = await runSources(issue, [await source('page-owner.ts')], {
    kube: reader,
    mentionIds: ['S0PAYONCALL'],
  });
  t.deepEqual(notesOf(r.issue), []);
  t.deepEqual(r.issue.actions?.mentions, { users: [], groups: ['S0PAYONCALL'] });
  t.is(r.issue.severity, 'HIGH');
  t.like(r.issue.enrichments.at(-1), {
    source: 'workflow:page-owner',
    verdict: 'Paged payments-oncall (owner of payments)',
    blocks: [{ type: 'table', rows: [['payments', 'payments-oncall', 'S0PAYONCALL']] }],
  });
  // The shop namespace names no owner: nobody is paged, and the thread says why.
  const shop = { ...issue, subject: { ...issue.subject, namespace: 'shop' } };
  const r2 = await runSources(shop, [await source('page-owner.ts')], {
    kube: reader,
    mentionIds: ['S0PAYONCALL'],
  });
  t.is(r2.issue.actions?.mentions, undefined);
  t.like(r2.issue.enrichments.at(-1)?.blocks[0], { text: 'No owning team is on call for namespace shop.' });
});

test('examples: npm run workflow -- test prints what a workflow returns for a recorded issue', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'workflow-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const config = join(dir, 'config.yaml');
  await writeFile(config, 'codeWorkflows:\n  mentionIds: [S0PAYONCALL]\n');
  const { stdout } = await run(
    process.execPath,
    ['scripts/workflow.ts', 'test', join(EXAMPLES, 'page-owner.ts'), join(EXAMPLES, 'issue.json')],
    {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        KUBECONFIG: kube.kubeconfigPath,
        CONFIG_FILE: config,
        LOG_LEVEL: 'warn',
      },
    },
  );
  const out = JSON.parse(stdout);
  t.like(out, {
    workflow: 'page-owner',
    triggersMatch: true,
    outcome: 'ok',
    returned: { mentions: { groups: ['S0PAYONCALL'] }, severity: 'HIGH' },
    mentions: { groups: ['S0PAYONCALL'] },
    refusedMentions: [],
  });
  const failed = await run(
    process.execPath,
    ['scripts/workflow.ts', 'test', join(EXAMPLES, 'page-owner.ts'), join(EXAMPLES, 'issue.json')],
    { cwd: ROOT, env: { PATH: process.env.PATH, HOME: dir } },
  ).then(
    (o) => ({ code: 0, stdout: o.stdout }),
    (e: { code: number; stdout: string }) => e,
  );
  t.is(failed.code, 1, 'without a cluster the run fails, and the command says so');
  t.like(JSON.parse(failed.stdout), {
    outcome: 'error',
    note: 'page-owner failed: Error: no cluster access',
  });
});
