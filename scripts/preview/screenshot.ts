// `node scripts/preview/screenshot.ts [OUT.png]`: the README's picture. Runs `npm run demo` on free
// ports, opens its preview page in Debian's headless Chromium (playwright-core), waits for the OOM
// kill's memory graph, and saves the 1200x900 view that ends under that graph (docs/preview.png
// unless OUT is given). Needs `apt-get install chromium`.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const root = resolve(import.meta.dirname, '../..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const VIEWPORT = { width: 1200, height: 900 };
const OOM_GRAPH = 'img[alt^="Working set of payments/worker"]';

/** The demo pipeline on free ports; resolves with its preview page's URL once it is ready. */
function startDemo(): Promise<{ child: ChildProcess; preview: string; output: () => string }> {
  const child = spawn(process.execPath, [resolve(root, 'scripts/start.ts'), '--demo'], {
    cwd: root,
    env: {
      ...process.env,
      PORT: '0',
      BROKER_PORT: '0',
      PREVIEW_PORT: '0',
      LOG_FORMAT: 'json',
      // The picture shows the alerts firing; the node's resolution comes after it is taken.
      DEMO_RESOLVE_AFTER_SECONDS: '600',
    },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let out = '';
  const keep = (c: Buffer) => {
    out = (out + c.toString()).slice(-200_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return new Promise((done, fail) => {
    const timer = setTimeout(() => {
      // Not left running: the caller gets no handle to stop it with (start.ts stops its functions).
      child.kill('SIGTERM');
      fail(new Error('the demo pipeline was not ready in 60 s'));
    }, 60_000);
    child.on('exit', (code) => fail(new Error(`the demo pipeline exited (${code})`)));
    child.on('message', (m: { type?: string; preview?: string }) => {
      if (m?.type !== 'ready') return;
      clearTimeout(timer);
      if (m.preview) return done({ child, preview: m.preview, output: () => out });
      child.kill('SIGTERM');
      fail(new Error('the demo pipeline serves no preview page'));
    });
  });
}

async function main(out: string): Promise<void> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  const { child, preview, output } = await startDemo();
  const profile = await mkdtemp(join(tmpdir(), 'chromium-'));
  try {
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
      ],
      viewport: VIEWPORT,
      deviceScaleFactor: 1,
    });
    try {
      const page = await browser.newPage();
      await page.goto(preview);
      await page
        .locator(OOM_GRAPH)
        .waitFor({ timeout: 90_000 })
        .catch((err: unknown) => {
          // What the pipeline said about metrics is what tells why the graph is missing.
          const lines = output()
            .split('\n')
            .filter((l) => /metrics|graph|Prometheus|budget/i.test(l));
          throw new Error(`no OOM graph on the page:\n${lines.slice(-40).join('\n')}`, { cause: err });
        });
      await page.waitForFunction(`document.querySelector(${JSON.stringify(OOM_GRAPH)}).complete`);
      // The view ends just under the graph: the OOM kill's diagnosis, its verdict numbers, the graph.
      const box = await page.locator(OOM_GRAPH).boundingBox();
      const scrolled = (await page.evaluate('window.scrollY')) as number;
      const bottom = (box?.y ?? 0) + scrolled + (box?.height ?? 0) + 24;
      const y = Math.max(0, Math.round(bottom - VIEWPORT.height));
      const png = await page.screenshot({ fullPage: true, clip: { x: 0, y, ...VIEWPORT } });
      await writeFile(out, png);
      console.log(`${out}: ${VIEWPORT.width}x${VIEWPORT.height}, ${png.length} bytes`);
    } finally {
      await browser.close();
    }
  } finally {
    child.kill('SIGTERM');
    await rm(profile, { recursive: true, force: true });
  }
}

await main(resolve(process.argv[2] ?? resolve(root, 'docs/preview.png')));
