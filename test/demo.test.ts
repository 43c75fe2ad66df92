// `npm run demo` end to end: scripts/start.ts --demo runs the five functions and the local broker,
// the enrichers read the recorded cluster through the real Kubernetes client from the stand-in
// API server, the demo fires its alerts and Events over HTTP, and the terminal shows every
// diagnosis, then the resolution's edit.
import test from 'ava';
import { eventually, startPipeline } from './support/pipeline.ts';

test('demo: the terminal shows the crash loop with its previous log, the OOM kill, the image pull, the unschedulable pod, the NotReady node and the broken rollout', async (t) => {
  const pipeline = await startPipeline({ DEMO_RESOLVE_AFTER_SECONDS: '1', PREVIEW_PORT: '0' }, ['--demo']);
  t.teardown(() => pipeline.stop());
  const out = await eventually(
    'the demo to fire everything and the resolution to edit its root',
    () => {
      const o = pipeline.output();
      return /demo: alert KubeNodeNotReady resolved/.test(o) && /RESOLVED after \d+m/.test(o) ? o : undefined;
    },
    90_000,
  );

  t.notRegex(out, /No cluster access/, 'every enricher read the recorded cluster');
  // The crash loop, with the previous instance's log attached to its thread.
  t.regex(out, /Verdict: CrashLoopBackOff: container app exited 1 \(application error\) 5 times/);
  t.regex(out, /📎 api-7d9f8b6c5d-x2x4q app previous log\.txt — Logs of app \(previous instance/);
  t.regex(out, /FATAL could not connect to database after 3 attempts, exiting with code 1/);
  // The OOM kill.
  t.regex(out, /Verdict: OOMKilled: container worker hit its 256Mi memory limit, restarted 3 times/);
  t.regex(out, /Exit code: 137 \(SIGKILL: out of memory\)/);
  // The image that does not exist.
  t.regex(
    out,
    /ImagePullBackOff: init container wait-for-redis cannot pull busybox:1\.99: image or tag not found/,
  );
  // The pod that cannot be scheduled, with the scheduler's reasons.
  t.regex(out, /Verdict: Unschedulable: 0\/6 nodes are available: .*2 × Insufficient memory/);
  // The NotReady node.
  t.regex(
    out,
    /Verdict: NotReady: node worker-2 Ready=Unknown for \d+m \(NodeStatusUnknown: Kubelet stopped posting node status\.\), cordoned/,
  );
  // The rollout that broke things.
  t.regex(out, /A Deployment rollout is not progressing \(ProgressDeadlineExceeded\)\./);
  t.regex(
    out,
    /Verdict: Deployment checkout: 3\/5 ready; 2 in CrashLoopBackOff on node-7; rollout stalled \(ProgressDeadlineExceeded\) — OOMKilled/,
  );
  // The resolution edited the node's root in place.
  t.regex(out, /RESOLVED after \d+m\n│ Node is not ready\./);
  t.regex(out, /updated terminal ts=/);
});
