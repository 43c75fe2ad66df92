// The preview page in a real browser: Debian's headless Chromium, driven by playwright-core, opens
// the page `npm run demo` serves while the demo runs, and checks what a person would see: the
// roots with their coloured bars, the thread replies with tables and the log file, the OOM kill's
// memory graph as an inline PNG, the resolution's edit, and a hostile alert drawn as text. A screenshot is checked for size and content.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import test from 'ava';
import { chromium } from 'playwright-core';
import { eventually, startPipeline } from './support/pipeline.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SCREENSHOT = resolve(import.meta.dirname, '../.local/preview-demo.png');

/** An alert whose text tries to inject markup into the page and mentions into Slack. */
const HOSTILE = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>`;
function hostileWebhook() {
  const alert = {
    status: 'firing',
    labels: { alertname: 'HostileText', namespace: 'shop', severity: 'warning' },
    annotations: {
      summary: `Injected ${HOSTILE}`,
      description: `<!channel> *bold* ${HOSTILE} <javascript:alert(1)|click>`,
    },
    startsAt: new Date(Date.now() - 60_000).toISOString(),
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'javascript:alert(1)',
    fingerprint: 'hostile0000000001',
  };
  return {
    version: '4',
    groupKey: '{}:{alertname="HostileText"}',
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'kubeincident',
    groupLabels: { alertname: 'HostileText' },
    commonLabels: alert.labels,
    commonAnnotations: alert.annotations,
    externalURL: 'http://alertmanager.monitoring:9093',
    alerts: [alert],
  };
}

/** A data: URL's PNG: its size in bytes and its IHDR width and height (checked signature). */
function pngInfo(src: string): { bytes: number; width: number; height: number } {
  const buf = Buffer.from(src.replace(/^data:image\/png;base64,/, ''), 'base64');
  if (!buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])))
    return { bytes: buf.length, width: 0, height: 0 };
  return { bytes: buf.length, width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}

test('preview page: the demo as Slack shows it, live: colours, threads, tables, files, graphs, the resolved edit; hostile text stays text', async (t) => {
  if (!existsSync(CHROMIUM)) return t.fail(`${CHROMIUM} is missing: apt-get install -y chromium`);
  // The resolution waits for the node's firing message (and its graph) to go out first, even on a
  // loaded machine: the test is about the edit, not a race.
  const pipeline = await startPipeline({ DEMO_RESOLVE_AFTER_SECONDS: '8', PREVIEW_PORT: '0' }, ['--demo']);
  t.teardown(() => pipeline.stop());
  t.truthy(pipeline.preview, 'the pipeline serves a preview page');
  const userDataDir = await mkdtemp(join(tmpdir(), 'chromium-'));
  t.teardown(() => rm(userDataDir, { recursive: true, force: true }));
  const browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 900 },
  });
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // Opened while the demo is still firing: what came before is replayed, the rest arrives live.
  await page.goto(pipeline.preview as string);
  await page.waitForSelector('#status[data-state="live"]');
  const res = await fetch(pipeline.webhook, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(hostileWebhook()),
  });
  t.is(res.status, 200);
  const nodeRoot = page.locator('#channel > article.root', { hasText: 'Node is not ready.' });
  await nodeRoot.and(page.locator('.edited')).waitFor({ timeout: 60_000 });
  await eventually('the hostile alert on the page', async () =>
    (await page.locator('article.root', { hasText: 'HostileText' }).count()) > 0 ? true : undefined,
  );

  // Roots: one per alert, each with Slack's coloured bar; high red, low amber, resolved green.
  const roots = page.locator('#channel > article.root');
  t.true((await roots.count()) >= 7, `roots: ${await roots.count()}`);
  const colors = await page.$$eval('#channel > article.root > .body > .attachment', (els) =>
    els.map((e) => e.getAttribute('data-color') ?? ''),
  );
  t.true(colors.includes('#d62828'), colors.join());
  t.true(colors.includes('#f4a100'), colors.join());
  t.true(colors.includes('#2eb67d'), colors.join());
  const bar = await page.evaluate(
    `getComputedStyle(document.querySelector('#channel > article.root > .body > .attachment[data-color="#d62828"]')).borderLeftColor`,
  );
  t.is(bar, 'rgb(214, 40, 40)');

  // The crash loop's root, its thread: the details with tables, and the previous log as a file.
  const crash = page.locator('#channel > article.root', { hasText: 'Pod is crash looping.' });
  t.is(await crash.locator(':scope > .body .block.header').first().textContent(), 'Pod is crash looping.');
  const replies = crash.locator('.thread > article.reply');
  t.true((await replies.count()) >= 2);
  t.regex((await crash.locator('.thread-label').textContent()) ?? '', /^\d+ replies$/);
  const cells = await crash.locator('.thread table.slack-table td').allTextContents();
  // Slack takes one native table per message (the probe failures here); the rest are text tables.
  t.deepEqual(cells.slice(0, 6), ['Container', 'Probe', 'Failures', 'Last seen', 'Last message', 'app']);
  const pre = (await crash.locator('.thread pre').allTextContents()).join('\n');
  t.regex(pre, /app\s+no\s+5\s+Waiting\s+CrashLoopBackOff/);
  t.regex(
    (await crash.locator('.thread .file').first().textContent()) ?? '',
    /FATAL could not connect to database/,
  );
  const link = crash.locator(':scope > .body a', { hasText: 'Runbook' });
  t.is(
    await link.getAttribute('href'),
    'https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping',
  );

  // The OOM kill's thread: the memory graph's verdict numbers, and the graph as a PNG image.
  const oom = page.locator('#channel > article.root', { hasText: 'Container was OOMKilled.' });
  const graph = oom.locator('.thread .block.image img');
  await graph.first().waitFor({ timeout: 60_000 });
  t.regex(
    (await oom.locator('.thread').textContent()) ?? '',
    /Memory of worker-5c8d7f9b4-k7wzp\/worker peaked at 25[3-5]Mi of its 256Mi limit, grew [6-8]\d\dMi\/h over its last run \(1[5-7]m\)/,
  );
  t.regex(
    (await graph.getAttribute('alt')) ?? '',
    /^Working set of payments\/worker-5c8d7f9b4-k7wzp: peaked at 25[3-5]Mi/,
  );
  const chart = pngInfo((await graph.getAttribute('src')) ?? '');
  t.true(chart.bytes > 15_000 && chart.bytes < 1_000_000, `graph PNG of ${chart.bytes} bytes`);
  t.true(
    chart.width >= 600 && chart.width <= 2400 && chart.height >= 250 && chart.height <= 1200,
    `${chart.width}x${chart.height}`,
  );
  // ...and the browser decoded it at that size.
  await eventually('the graph decoded', async () =>
    (await page.evaluate(
      `(() => { const i = document.querySelector('#channel img[alt^="Working set of payments/worker"]'); return i.complete && i.naturalWidth; })()`,
    )) === chart.width
      ? true
      : undefined,
  );

  // The NotReady node's thread: enrich-metrics' node part, its numbers and one graph of worker-2.
  const nodeThread = nodeRoot.locator('.thread');
  t.regex(
    (await nodeThread.textContent()) ?? '',
    /Node worker-2 memory 9\d(\.\d)?% used, CPU [89]\d(\.\d)?% busy at its last scrape \d+m ago/,
  );
  const nodeGraphs = nodeThread.locator('.block.image img');
  t.is(await nodeGraphs.count(), 1, 'one node graph, no duplicate');
  t.regex((await nodeGraphs.getAttribute('alt')) ?? '', /^Memory and CPU of node worker-2: memory 9\d/);
  const nodeChart = pngInfo((await nodeGraphs.getAttribute('src')) ?? '');
  t.true(nodeChart.bytes > 15_000 && nodeChart.width === chart.width, `node graph ${nodeChart.bytes} bytes`);

  // The resolution edited the node's root in place: green, RESOLVED, marked edited, one root.
  t.is(await nodeRoot.count(), 1, 'edited in place, not posted again');
  const resolved = nodeRoot;
  t.regex((await resolved.textContent()) ?? '', /Node is not ready\.[\s\S]*RESOLVED/);
  t.is(await resolved.locator(':scope > .body > .attachment').getAttribute('data-color'), '#2eb67d');
  t.is(await resolved.locator(':scope > .meta > .edited-mark').textContent(), '(edited)');

  // The hostile alert: its text is shown as text; nothing it carried became an element or ran.
  const hostile = page.locator('#channel > article.root', { hasText: 'HostileText' });
  t.regex((await hostile.textContent()) ?? '', /<img src=x onerror="window.__pwned=1"><script>/);
  t.is(await hostile.locator('img, script, iframe').count(), 0);
  t.is(await page.locator('#channel script, #channel iframe').count(), 0);
  // The only pictures are the graphs enrich-metrics drew, inline as data: URLs.
  const sources = await page.$$eval('#channel img', (imgs) => imgs.map((i) => i.getAttribute('src') ?? ''));
  t.true(sources.length >= 2, `images: ${sources.length}`);
  t.true(
    sources.every((src) => src.startsWith('data:image/png;base64,')),
    'every image is an inline PNG',
  );
  t.is(await page.evaluate('typeof window.__pwned'), 'undefined');
  const hrefs = await page.$$eval('#channel a', (as) => as.map((a) => a.getAttribute('href') ?? ''));
  t.false(
    hrefs.some((h) => !/^https?:/.test(h)),
    'only http(s) links',
  );
  t.deepEqual(errors, []);

  // A screenshot a person can look at, checked for size and content in the browser itself.
  const png = await page.screenshot({ fullPage: true });
  await mkdir(resolve(SCREENSHOT, '..'), { recursive: true });
  await writeFile(SCREENSHOT, png);
  t.true(png.length > 50_000, `screenshot of ${png.length} bytes`);
  const probe = await browser.newPage();
  // Decoded by the browser (no image library here); a string, since the tests compile without DOM types.
  const measure = `(async (src) => {
    const img = new Image();
    img.src = src;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width;
    c.height = img.height;
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let ink = 0;
    let red = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200) ink++;
      if (d[i] === 214 && d[i + 1] === 40 && d[i + 2] === 40) red++;
    }
    return { width: img.width, height: img.height, inkShare: ink / (d.length / 4), red };
  })(${JSON.stringify(`data:image/png;base64,${png.toString('base64')}`)})`;
  const stats = (await probe.evaluate(measure)) as {
    width: number;
    height: number;
    inkShare: number;
    red: number;
  };
  t.is(stats.width, 1280);
  t.true(stats.height > 2000, `height ${stats.height}`);
  t.true(stats.inkShare > 0.01 && stats.inkShare < 0.6, `ink share ${stats.inkShare}`);
  t.true(stats.red > 100, 'the red bars are drawn');
});
