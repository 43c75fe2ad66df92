// Every command in the README is run here, as a newcomer would type it, or (where it needs what
// no test machine has: a container daemon, a cluster) run in the form that checks the same thing
// without one, named in HOW below. A command added to the README that this file does not know
// fails the first test, so the README cannot drift from what is exercised.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { parse as parseYaml } from 'yaml';
import { FUNCTIONS } from '../lib/platform/functions.ts';
import { freePort } from './support/redis-server.ts';

const root = resolve(import.meta.dirname, '..');
const run = promisify(execFile);

/** How each README command is exercised: by which test in this file, or by which other. */
const HOW: Record<string, string> = {
  'npm install && npm start': 'try it: npm start, then the sample alert and its resolution',
  'npm run sample-alert': 'try it',
  'npm run sample-alert -- --resolve': 'try it',
  'npm run demo':
    'test/demo.test.ts and test/preview-browser.test.ts run npm start -- --demo, which npm run demo is',
  'npm test': 'this run is it (CI runs .ci/run, which runs npm test)',
  'npm ci && npm run build': 'test/bundles.test.ts builds every bundle as npm run build does',
  'for fn in': 'deploy: the image loop (no container daemon here: its list and the Dockerfile are checked)',
  'kubectl create namespace': 'deploy: kubectl --dry-run=client',
  'kubectl -n kubeincident create secret': 'deploy: kubectl --dry-run=client',
  'kubectl apply -k knative/': 'test/knative-manifests.test.ts builds kubectl kustomize knative/',
};

async function readmeCommands(): Promise<string[]> {
  const readme = await readFile(resolve(root, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
  const commands: string[] = [];
  for (const block of blocks) {
    // A `for ... done` loop is one command; comment lines are instructions to the reader.
    const text = block.replace(
      /\nfor [^\n]*\n[\s\S]*?\ndone/g,
      (loop) => `\n${loop.trim().replace(/\n/g, ' ; ')}`,
    );
    for (const line of text.split('\n').map((l) => l.trim()))
      if (line && !line.startsWith('#')) commands.push(line);
  }
  return commands;
}

function howOf(command: string): string | undefined {
  const key = Object.keys(HOW).find((k) => command === k || command.startsWith(k));
  return key && HOW[key];
}

test('README: every command in it is one this file knows how to exercise', async (t) => {
  const commands = await readmeCommands();
  t.true(commands.length >= 9);
  t.deepEqual(
    commands.filter((c) => !howOf(c)),
    [],
  );
});

function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<string> {
  let seen = '';
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`no ${pattern} in:\n${seen.slice(-3000)}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      if (!pattern.test(seen)) return;
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      done(seen);
    };
    child.stdout?.on('data', onData);
  });
}

test('README try it: npm start, npm run sample-alert, then -- --resolve edits the same thread', async (t) => {
  const [port, brokerPort] = [await freePort(), await freePort()];
  // The README's defaults: no REDIS_URL, no Slack token, no cluster. Only the ports are moved,
  // so this test can run beside others.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    BROKER_PORT: String(brokerPort),
    LOG_FORMAT: 'json',
  };
  for (const k of ['REDIS_URL', 'SLACK_BOT_TOKEN', 'KUBECONFIG', 'CONFIG_FILE']) delete env[k];
  env.KUBECONFIG = '/nonexistent';
  const start = spawn('npm', ['start'], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  t.teardown(() => {
    try {
      if (start.pid) process.kill(-start.pid, 'SIGTERM');
    } catch {}
  });
  await waitForOutput(start, /kubeincident pipeline is running/, 60_000);
  const firing = waitForOutput(start, /FIRING[\s\S]*checkout-7d9c8b6f5-x2x9k[\s\S]*cluster access/i, 60_000);
  await run('npm', ['run', 'sample-alert'], { cwd: root, env });
  const shown = await firing;
  t.regex(shown, /Pod is crash looping/);
  const resolved = waitForOutput(start, /RESOLVED after/, 60_000);
  await run('npm', ['run', 'sample-alert', '--', '--resolve'], { cwd: root, env });
  t.regex(await resolved, /RESOLVED after 1[45]m/);
});

test('README deploy: the image loop builds every function, each one the Dockerfile can build', async (t) => {
  const commands = await readmeCommands();
  const loop = commands.find((c) => c.startsWith('for fn in')) ?? '';
  const list = /for fn in ([^;]*);/.exec(loop)?.[1]?.trim() ?? '';
  t.is(list, '$(ls functions)');
  const { stdout } = await run('bash', ['-c', 'ls functions'], { cwd: root });
  t.deepEqual(stdout.trim().split('\n').sort(), [...FUNCTIONS].sort());
  t.regex(loop, /docker build --build-arg FUNCTION=\$fn/);
  const dockerfile = await readFile(resolve(root, 'Dockerfile'), 'utf8');
  t.regex(dockerfile, /ARG FUNCTION/);
  t.regex(dockerfile, /dist\/\$\{?FUNCTION\}?/);
});

test('README deploy: the namespace and secret commands produce the objects the manifests use', async (t) => {
  const commands = (await readmeCommands()).filter((c) => c.startsWith('kubectl ') && c.includes(' create '));
  t.is(commands.length, 3);
  const services = await readFile(resolve(root, 'knative/services/alert-ingest.yaml'), 'utf8');
  const dispatch = await readFile(resolve(root, 'knative/services/dispatch-slack.yaml'), 'utf8');
  for (const command of commands) {
    const { stdout } = await run('bash', ['-c', `${command} --dry-run=client -o yaml`], { cwd: root });
    const obj = parseYaml(stdout) as {
      kind: string;
      metadata: { name: string };
      data?: Record<string, string>;
    };
    if (obj.kind === 'Namespace') {
      t.is(obj.metadata.name, 'kubeincident');
      continue;
    }
    t.is(obj.kind, 'Secret');
    const key = Object.keys(obj.data ?? {})[0] ?? '';
    const value = Buffer.from(obj.data?.[key] ?? '', 'base64').toString();
    t.true(value.length > 0, `${obj.metadata.name}.${key} has a value`);
    // The Services read that Secret by that name and key.
    t.true(`${services}\n${dispatch}`.includes(obj.metadata.name), `${obj.metadata.name} is referenced`);
    t.true(`${services}\n${dispatch}`.includes(key), `${key} is referenced`);
  }
});
