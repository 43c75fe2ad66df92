// `npm run demo` end to end: scripts/start.ts --demo runs the five functions and the local broker,
// the enrichers read the recorded cluster through the real Kubernetes client from the stand-in
// API server, the demo fires its alerts and Events over HTTP, and the terminal shows every
// diagnosis, then the resolution's edit.
import test from 'ava';
import { eventually, startPipeline } from './support/pipeline.ts';

test('demo: the terminal shows the crash loop with its previous log, the OOM kill with its memory graph, the image pull, the unschedulable pod, the NotReady node with its memory and CPU graph and the broken rollout', async (t) => {
  // The resolution waits long enough for the node's firing message (with its graph) to go out
  // first on a loaded machine: the test is about the edit, not a race.
  const pipeline = await startPipeline({ DEMO_RESOLVE_AFTER_SECONDS: '8', PREVIEW_PORT: '0' }, ['--demo']);
  t.teardown(() => pipeline.stop());
  const out = await eventually(
    'the demo to fire everything and the resolution to edit its root',
    () => {
      const o = pipeline.output();
      const done = /demo: alert KubeNodeNotReady resolved/.test(o) && /RESOLVED after \d+m/.test(o);
      const graphs =
        /\[image worker-5c8d7f9b4-k7wzp-memory\.png /.test(o) && /\[image worker-2-node\.png /.test(o);
      return done && graphs ? o : undefined;
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
  // Its memory graph, from the recorded series: the working set reached the limit (the last scrape
  // before each kill), the slope of the run that was killed (17m from 64Mi to the limit: some
  // 740Mi/h by least squares, as deriv fits it), and the graph itself as a PNG (a line in the terminal).
  t.regex(
    out,
    /Verdict: Memory of worker-5c8d7f9b4-k7wzp\/worker peaked at 25[3-5]Mi of its 256Mi limit, grew [6-8]\d\dMi\/h over its last run \(1[5-7]m\)/,
  );
  t.regex(
    out,
    /\[image worker-5c8d7f9b4-k7wzp-memory\.png "Memory working set: payments\/worker-5c8d7f9b4-k7wzp": Working set of payments\/worker-5c8d7f9b4-k7wzp: peaked at 25[3-5]Mi/,
  );
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
  // Its memory and CPU from enrich-metrics' node part: nearly out of memory and busy when its
  // node-exporter went silent with it (11:51:40, some 8m before the recorded moment).
  t.regex(
    out,
    /Verdict: Node worker-2 memory 9[5-9](\.\d)?% used, CPU [89]\d(\.\d)?% busy at its last scrape [7-9]m ago/,
  );
  t.regex(
    out,
    /\[image worker-2-node\.png "Node worker-2: memory and CPU": Memory and CPU of node worker-2: memory 9\d/,
  );
  // The node's graph is the built-in part's: no custom graph of every node beside it.
  t.notRegex(out, /by-node\.png/);
  t.deepEqual([...new Set(out.match(/\[image [^ ]*node[^ ]*\.png /g))], ['[image worker-2-node.png ']);
  t.notRegex(
    out,
    /No series for|No \w+ series for|Prometheus (unreachable|refused|rejected|did not answer|has no data)|could not be drawn/,
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
