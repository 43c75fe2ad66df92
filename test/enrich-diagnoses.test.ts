// Each diagnosis over several variants: pull errors in containerd and docker wording, scheduler
// messages, evictions, probe failures, OOM kills against node pressure, and log redaction. Pure
// functions where the wording is the point; the TLS stand-in where whole pods are.
import test from 'ava';
import { createKubeReader } from '../lib/adapters/k8s/client.ts';
import {
  classifyPullMessage,
  type PullCause,
  parseFailedScheduling,
} from '../lib/domain/diagnose/diagnose-events.ts';
import { compileRedactPatterns, redact } from '../lib/domain/diagnose/redact.ts';
import type { Block, Enrichment, TableBlock } from '../lib/domain/issue.ts';
import { ConfigError } from '../lib/platform/errors.ts';
import { enrichPod, type PodEnrichOptions } from '../lib/stages/enrich/pod.ts';
import { makeIssue } from './support/issue-factory.ts';
import { type KubeStandin, startKubeStandin } from './support/kube-standin.ts';

const NOW = new Date('2026-03-10T12:00:00Z');
const OPTS: PodEnrichOptions = { logTailLines: 100, logLimitBytes: 16 * 1024, timeBudgetMs: 4000, now: NOW };

let kube: KubeStandin;
test.before(async () => {
  kube = await startKubeStandin();
});
test.after.always(async () => {
  await kube?.close();
});

async function podEnrichment(namespace: string, name: string) {
  const reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath });
  return enrichPod(makeIssue({ subject: { kind: 'Pod', name, namespace } }), reader, OPTS);
}
const list = (e: Enrichment, prefix: string) =>
  e.blocks.find(
    (b): b is Extract<Block, { type: 'list' }> => b.type === 'list' && (b.title ?? '').startsWith(prefix),
  );
const table = (e: Enrichment, title: string) =>
  e.blocks.find((b): b is TableBlock => b.type === 'table' && b.title === title);

// Messages as the kubelet words them with containerd and with docker (cri-dockerd).
const PULL_MESSAGES: Array<[PullCause, string]> = [
  [
    'not-found',
    'Failed to pull image "registry.example.com/shop/cart:1.9.9": rpc error: code = NotFound desc = failed to pull and unpack image "registry.example.com/shop/cart:1.9.9": failed to resolve reference "registry.example.com/shop/cart:1.9.9": registry.example.com/shop/cart:1.9.9: not found',
  ],
  [
    'not-found',
    'Failed to pull image "busybox:1.99": Error response from daemon: manifest for busybox:1.99 not found: manifest unknown: manifest unknown',
  ],
  [
    'unauthorized',
    'Failed to pull image "registry.example.com/shop/billing:3.2.0": failed to pull and unpack image "registry.example.com/shop/billing:3.2.0": failed to resolve reference "registry.example.com/shop/billing:3.2.0": pulling from host registry.example.com failed with status code [manifests 3.2.0]: 401 Unauthorized',
  ],
  [
    'unauthorized',
    'Failed to pull image "private/app:1.0": Error response from daemon: pull access denied for private/app, repository does not exist or may require \'docker login\': denied: requested access to the resource is denied',
  ],
  [
    'rate-limited',
    'Failed to pull image "redis:7": rpc error: code = Unknown desc = failed to pull and unpack image "docker.io/library/redis:7": failed to copy: httpReadSeeker: failed open: unexpected status code https://registry-1.docker.io/v2/library/redis/manifests/sha256:0123: 429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit',
  ],
  [
    'rate-limited',
    'Failed to pull image "redis:7": Error response from daemon: toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit',
  ],
  [
    'network',
    'Failed to pull image "registry.example.com/shop/cart:5.1.0": failed to pull and unpack image "registry.example.com/shop/cart:5.1.0": failed to resolve reference "registry.example.com/shop/cart:5.1.0": failed to do request: Head "https://registry.example.com/v2/shop/cart/manifests/5.1.0": dial tcp: lookup registry.example.com on 10.96.0.10:53: no such host',
  ],
  [
    'network',
    'Failed to pull image "registry.example.com/shop/cart:5.1.0": Error response from daemon: Get "https://registry.example.com/v2/": net/http: request canceled while waiting for connection (Client.Timeout exceeded while awaiting headers)',
  ],
  [
    'network',
    'Failed to pull image "quay.io/org/app:2": rpc error: code = DeadlineExceeded desc = failed to pull and unpack image "quay.io/org/app:2": failed to copy: read tcp 10.0.2.47:51234->54.1.2.3:443: i/o timeout',
  ],
];

test('image pull: each cause is recognised in containerd and docker wording', (t) => {
  for (const [cause, message] of PULL_MESSAGES) t.is(classifyPullMessage(message), cause, message);
  t.is(classifyPullMessage('Failed to pull image "x": something new'), 'unknown');
});

test('image pull: an init container whose image tag does not exist (docker wording) is named as such', async (t) => {
  const { enrichment: e } = await podEnrichment('shop', 'cart-5d4c8b7f6-qz8mn');
  t.is(
    e.verdict,
    'ImagePullBackOff: init container wait-for-redis cannot pull busybox:1.99: image or tag not found',
  );
  const diag = list(e, 'Diagnosis: image pull');
  t.regex(diag?.items.find((i) => i.startsWith('Kubelet:')) ?? '', /manifest for busybox:1.99 not found/);
  t.regex(diag?.items.at(-1) ?? '', /^Hint: check the image name and tag/);
  t.regex(
    e.blocks.map((b) => (b.type === 'markdown' ? b.text : '')).join(''),
    /No logs: container wait-for-redis has not run yet \(ImagePullBackOff\)/,
  );
});

test('image pull: a private image refused by the registry (containerd wording) points at the pull secret, not the sidecar', async (t) => {
  const r = await podEnrichment('shop', 'billing-6c9d7f8b5-p2m7x');
  t.is(
    r.enrichment.verdict,
    'ImagePullBackOff: container billing cannot pull registry.example.com/shop/billing:3.2.0: unauthorized: the registry refused the credentials',
  );
  const diag = list(r.enrichment, 'Diagnosis: image pull');
  t.true(diag?.items.includes('imagePullSecrets: regcred'));
  t.is(r.subject?.node, 'node-7');
  t.is(r.unhealthyNode, 'node-7', 'node-7 has MemoryPressure: enrich-node gets a look');
});

test('scheduling: the scheduler message is split into causes, taints with commas kept whole', (t) => {
  const d = parseFailedScheduling(
    "0/9 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu, team: ml}, 2 Insufficient cpu, 2 node(s) were unschedulable, 4 node(s) didn't match pod anti-affinity rules. preemption: 0/9 nodes are available: 9 Preemption is not helpful for scheduling.",
  );
  t.is(d.headline, '0/9 nodes are available');
  t.deepEqual(d.causes, [
    { nodes: 4, reason: "node(s) didn't match pod anti-affinity rules" },
    { nodes: 2, reason: 'Insufficient cpu' },
    { nodes: 2, reason: 'node(s) were unschedulable' },
    { nodes: 1, reason: 'node(s) had untolerated taint {dedicated: gpu, team: ml}' },
  ]);
  t.false(d.unboundClaims);
  const pvc = parseFailedScheduling(
    '0/6 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/6 nodes are available: 6 Preemption is not helpful for scheduling.',
  );
  t.true(pvc.unboundClaims);
  t.deepEqual(pvc.causes, [{ nodes: 0, reason: 'pod has unbound immediate PersistentVolumeClaims' }]);
  const old = parseFailedScheduling('0/3 nodes are available: 3 Too many pods.');
  t.deepEqual(old.causes, [{ nodes: 3, reason: 'Too many pods' }]);
});

test('eviction: the reason, the node and its pressure, and how far above its request the pod was', async (t) => {
  const r = await podEnrichment('shop', 'report-7b9c6d5f4-w8n2k');
  t.regex(
    r.enrichment.verdict ?? '',
    /^Evicted from node node-7 \(MemoryPressure\): The node was low on resource: memory\. Threshold quantity: 100Mi/,
  );
  const diag = list(r.enrichment, 'Diagnosis: evicted');
  t.true(diag?.items.includes('Node node-7: MemoryPressure'));
  t.regex(diag?.items.at(-1) ?? '', /^Hint: container report used 1\.4Gi against a 512Mi request/);
  t.regex(
    r.enrichment.blocks.map((b) => (b.type === 'markdown' ? b.text : '')).join(''),
    /No logs: container report is gone \(ContainerStatusUnknown\)/,
  );
});

test('probes: liveness, readiness and startup failures are counted per container; liveness explains a not-ready sidecar', async (t) => {
  const { enrichment: e } = await podEnrichment('payments', 'ledger-0');
  t.regex(e.verdict ?? '', /^NotReady: container metrics-exporter is running but not ready/);
  t.regex(e.verdict ?? '', /; liveness probe failed 8 times \(metrics-exporter\)$/);
  t.deepEqual(
    table(e, 'Probe failures')?.rows.map((r) => r.slice(0, 3)),
    [
      ['metrics-exporter', 'Liveness', '8'],
      ['ledger', 'Startup', '3'],
    ],
  );
  const { enrichment: crash } = await podEnrichment('payments', 'api-7d9f8b6c5d-x2x4q');
  t.deepEqual(table(crash, 'Probe failures')?.rows[0]?.slice(0, 3), ['app', 'Readiness', '11']);
  t.notRegex(crash.verdict ?? '', /probe/, 'readiness failures of a crashing container are a symptom');
});

test('crash loop: restarts, the last exit and what it means, how long it ran, and a hint', async (t) => {
  const { enrichment: e } = await podEnrichment('payments', 'api-7d9f8b6c5d-x2x4q');
  t.deepEqual(list(e, 'Diagnosis: crash loop')?.items, [
    'container app: restarted 5 times',
    'Last termination: Error, exit 1 (application error)',
    'Last ran for 17s, stopped 2m ago (2026-03-10T11:57:58Z)',
    'Hint: exit 1: the application exited with an error: its last log lines say why',
  ]);
});

test('OOM kill: limit, request and kill count; a node with memory to spare means the limit is too low', async (t) => {
  const r = await podEnrichment('payments', 'worker-5c8d7f9b4-k7wzp');
  const diag = list(r.enrichment, 'Diagnosis: out of memory');
  t.is(diag?.items[0], 'Container worker: memory limit 256Mi, request 128Mi');
  t.regex(diag?.items[1] ?? '', /^OOM kills: the last termination was OOMKilled \(3 restarts in all\)/);
  t.true(diag?.items.includes('Node worker-1: Ready, no pressure'));
  t.regex(diag?.items.at(-1) ?? '', /outgrew its own 256Mi limit while the node had memory to spare/);
  t.is(r.subject?.node, 'worker-1');
  t.is(r.unhealthyNode, undefined, 'a healthy node is not chained to enrich-node');
});

test('redaction: tokens, passwords, keys, bearer headers, URL credentials and private keys are replaced', (t) => {
  const patterns = compileRedactPatterns(undefined);
  const cases: Array<[string, string]> = [
    ['password=hunter2 next', 'password=[REDACTED] next'],
    ['{"db_password": "p@ss w"}', '{"db_password": "[REDACTED] w"}'],
    ['Authorization: Bearer abcdefgh12345678', 'Authorization: Bearer [REDACTED]'],
    ['curl -H "authorization: Basic dXNlcjpwYXNz"', 'curl -H "authorization: Basic [REDACTED]"'],
    ['AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG', 'AWS_SECRET_ACCESS_KEY=[REDACTED]'],
    ['key id AKIAIOSFODNN7EXAMPLE used', 'key id [REDACTED] used'],
    ['redis://default:s3cret@redis:6379/0', 'redis://default:[REDACTED]@redis:6379/0'],
    ['slack xoxb-123456789012-abcdefghij', 'slack [REDACTED]'],
    ['-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\nafter', '[REDACTED]\nafter'],
    ['cut -----BEGIN PRIVATE KEY-----\nMIIEvQ', 'cut [REDACTED]'],
  ];
  for (const [input, expected] of cases) t.is(redact(input, patterns).text, expected, input);
  t.deepEqual(redact('GET /healthz 200 in 3ms, 5 tokens left in bucket', patterns), {
    text: 'GET /healthz 200 in 3ms, 5 tokens left in bucket',
    count: 0,
  });
});

test('redaction: LOG_REDACT_PATTERNS adds patterns (JSON array or one per line); a bad one refuses to start', (t) => {
  const json = compileRedactPatterns(
    '["customer-\\\\d{6}", "(?<=ssn: )(?<secret>\\\\d{3}-\\\\d{2}-\\\\d{4})"]',
  );
  t.is(
    redact('order for customer-123456, ssn: 123-45-6789', json).text,
    'order for [REDACTED], ssn: [REDACTED]',
  );
  const lines = compileRedactPatterns('internal-[a-z]+\n(?i:session=)\\w+');
  t.is(redact('host internal-db SESSION=abc', lines).text, 'host [REDACTED] [REDACTED]');
  t.throws(() => compileRedactPatterns('["(unclosed"]'), { instanceOf: ConfigError });
  t.throws(() => compileRedactPatterns('[1, 2]'), { instanceOf: ConfigError });
});
