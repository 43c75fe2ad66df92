// run-workflows' bundle starts with `node` alone, from a directory with no node_modules in reach,
// finds the sandbox's engine beside it, loads a workflow directory and runs a workflow on a real
// event (the namespace read from the stand-in API server), replying with the issue for dispatch.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { CloudEvent as CE, HTTP } from 'cloudevents';
import { WASM_FILE } from '../lib/adapters/sandbox/engine.ts';
import { decodeCloudEvent } from '../lib/platform/cloudevents/decode.ts';
import { buildFunction } from '../scripts/build.ts';
import { makeIssue } from './support/issue-factory.ts';
import { startKubeStandin } from './support/kube-standin.ts';
import { alertWorkflow } from './support/workflows.ts';

const PROBE = fileURLToPath(new URL('./support/module-probe.cjs', import.meta.url));

test('bundles: run-workflows runs a workflow from its directory on a real event, from node alone', async (t) => {
  const children: ChildProcess[] = [];
  const stops: Array<() => Promise<unknown>> = [];
  t.teardown(async () => {
    for (const c of children) c.kill('SIGKILL');
    await Promise.allSettled(stops.map((s) => s()));
  });
  const out = await mkdtemp(join(tmpdir(), 'bundles-workflows-'));
  stops.push(() => rm(out, { recursive: true, force: true }));
  const kube = await startKubeStandin();
  stops.push(() => kube.close());
  const wfDir = join(out, 'workflows');
  await mkdir(wfDir);
  await writeFile(
    join(wfDir, 'owner.ts'),
    alertWorkflow(
      'owner',
      `const ns = await ctx.k8s.get({ kind: 'Namespace', name: 'payments' });
       return { blocks: [{ type: 'markdown', text: 'owner ' + ns.metadata.annotations['kubeincident.dev/owner-team'] }] };`,
    ),
  );
  const config = join(out, 'config.yaml');
  await writeFile(config, `codeWorkflows:\n  directory: ${wfDir}\n`);

  const entry = await buildFunction('run-workflows', out);
  t.true(existsSync(join(dirname(entry), WASM_FILE)), 'the engine ships beside the bundle');
  t.false(existsSync(join(tmpdir(), 'node_modules')), 'no node_modules in reach of the bundle');
  const child = spawn(process.execPath, ['-r', PROBE, entry], {
    cwd: dirname(entry),
    env: {
      PATH: '/usr/bin:/bin',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      CONFIG_FILE: config,
      KUBECONFIG: kube.kubeconfigPath,
    },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  children.push(child);
  const { port, codeCache } = await new Promise<{ port: number; codeCache: string | undefined }>(
    (resolve, reject) => {
      child.on('message', (m: { type?: string; port?: number; codeCache?: string }) => {
        if (m?.type === 'listening' && m.port) resolve({ port: m.port, codeCache: m.codeCache });
      });
      child.once('exit', (code) => reject(new Error(`run-workflows exited with ${code}`)));
    },
  );
  const url = `http://127.0.0.1:${port}/`;
  t.is((await fetch(`${url}health/readiness`)).status, 200);
  t.is(codeCache, 'accepted', 'started from the code cache its build trained');

  const issue = makeIssue({
    subject: { kind: 'Deployment', name: 'ledger', namespace: 'payments' },
    plan: ['workflows', 'dispatch'],
  });
  const msg = HTTP.binary(new CE({ type: 'dev.kubeincident.issue.enriched.v1', source: '/t', data: issue }));
  const res = await fetch(url, {
    method: 'POST',
    headers: msg.headers as Record<string, string>,
    body: msg.body as string,
  });
  t.is(res.status, 200);
  const reply = decodeCloudEvent(Object.fromEntries(res.headers), Buffer.from(await res.arrayBuffer()));
  t.is(reply.nextstage, 'dispatch');
  const data = reply.data as typeof issue;
  t.deepEqual(data.plan, ['dispatch']);
  t.deepEqual(data.enrichments.at(-1), {
    source: 'workflow:owner',
    title: 'owner',
    blocks: [{ type: 'markdown', text: 'owner payments-oncall' }],
  });
  const metrics = await (await fetch(`${url}metrics`)).text();
  t.regex(metrics, /kubeincident_workflow_runs_total\{outcome="ok",workflow="owner"\} 1/);
});
