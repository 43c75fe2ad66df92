// run-workflows as a function module: its runs happen on a worker thread, so a workflow spinning
// until its deadline leaves the main thread free (a timer set meanwhile fires long before the
// event is answered); a "drop" answers with no event; an issue no workflow matches goes on as it was.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { CloudEvent } from 'cloudevents';
import type { Issue } from '../lib/domain/issue.ts';
import { createLogger } from '../lib/platform/logger.ts';
import type { FunctionModule, InvocationContext } from '../lib/platform/runtime/types.ts';
import { createWorkflowsFunction } from '../lib/stages/workflows/function.ts';
import { makeIssue } from './support/issue-factory.ts';
import { alertWorkflow, notesOf } from './support/workflows.ts';

const TRACE = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const ctx = () =>
  ({ log: createLogger({ level: 'silent' }), traceparent: TRACE }) as unknown as InvocationContext;
const event = (issue: Issue) =>
  new CloudEvent({ type: 'dev.kubeincident.issue.enriched.v1', source: '/t', data: issue });

let fn: FunctionModule;
let dir: string;
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'workflows-function-'));
  const wf = join(dir, 'workflows');
  await mkdir(wf);
  await writeFile(
    join(wf, 'a-spin.ts'),
    `export default { name: 'spin', triggers: [{ on: 'alert', alertName: 'Spin' }], run() { for (;;) {} } };`,
  );
  await writeFile(
    join(wf, 'b-quiet.ts'),
    `export default { name: 'quiet', triggers: [{ on: 'alert', alertName: 'Noise' }], run: () => 'drop' };`,
  );
  await writeFile(
    join(wf, 'c-note.ts'),
    alertWorkflow('note', "return { blocks: [{ type: 'markdown', text: 'seen' }] };"),
  );
  const config = join(dir, 'config.yaml');
  await writeFile(config, `codeWorkflows:\n  directory: ${wf}\n  timeoutMs: 1500\n`);
  fn = createWorkflowsFunction({ CONFIG_FILE: config, LOG_LEVEL: 'silent', HOME: dir });
  await fn.init?.();
});
test.after.always(async () => {
  await fn?.shutdown?.();
  await rm(dir, { recursive: true, force: true });
});

test.serial('run-workflows: a spinning workflow holds the worker thread, not the main one', async (t) => {
  const issue = makeIssue({
    labels: { alertname: 'Spin', namespace: 'payments' },
    plan: ['workflows', 'dispatch'],
  });
  const order: string[] = [];
  const timer = new Promise<void>((resolve) =>
    setTimeout(() => {
      order.push('timer');
      resolve();
    }, 50),
  );
  const answer = Promise.resolve(fn.handle(ctx(), event(issue))).then((r) => {
    order.push('answer');
    return r as CloudEvent<Issue>;
  });
  const [reply] = await Promise.all([answer, timer]);
  t.deepEqual(order, ['timer', 'answer']);
  t.is(reply.nextstage, 'dispatch');
  const data = reply.data as Issue;
  t.deepEqual(notesOf(data), ['spin timed out after 1500 ms']);
  t.truthy(
    data.enrichments.find((e) => e.source === 'workflow:note'),
    'the next workflow still ran',
  );
});

test.serial(
  'run-workflows: "drop" answers with no event; no match passes the issue on unchanged',
  async (t) => {
    const noise = makeIssue({
      labels: { alertname: 'Noise', namespace: 'payments' },
      plan: ['workflows', 'dispatch'],
    });
    t.is(await fn.handle(ctx(), event(noise)), undefined);
    const resolved = makeIssue({ type: 'event', source: 'kubernetes', plan: ['workflows', 'dispatch'] });
    const reply = (await fn.handle(ctx(), event(resolved))) as CloudEvent<Issue>;
    t.deepEqual((reply.data as Issue).enrichments, resolved.enrichments);
    t.deepEqual((reply.data as Issue).plan, ['dispatch']);
  },
);
