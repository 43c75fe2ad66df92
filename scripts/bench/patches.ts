// What each build-time patch of third-party source buys (docs/performance.md, "Dependency
// patches"): `node scripts/bench/patches.ts [--runs N]` builds every function as deployed, without
// each patch in turn and without any, then starts those bundles in turn, round after round (the
// order rotated each round), as `npm run bench -- --only cold` starts one: spawn to ready, spawn
// to first event handled, RSS 300 ms after it, and the CPU time its main thread ran until that
// first event was answered (less moved by other processes on the machine than wall-clock time).
// A variant whose main.cjs is the deployed one byte for byte (a patch of a package that function
// does not bundle) is not started.
// Each round also starts the deployed bundle a second time ("deployed, again"): its difference
// from the first start of the round is what the machine's noise alone gives.
// Figures: per variant, the median of each figure with its range; per round, the variant's figure
// minus the deployed one's in that round, summarized as median and interquartile range. A patch
// buys what removing it costs: a positive difference.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFunction, DEPENDENCY_PATCH_NAMES, type DependencyPatch, FUNCTIONS } from '../build.ts';
import { writeBaselines } from './baselines.ts';
import { fnRequest, type StartFigures, startFunctionPeers, startOnce } from './functions.ts';
import { median } from './procs.ts';

const runsAt = process.argv.indexOf('--runs');
const RUNS = runsAt >= 0 ? Number(process.argv[runsAt + 1]) : 9;
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error('--runs takes a whole number of rounds');

interface Variant {
  name: string;
  without: DependencyPatch[];
}
const DEPLOYED: Variant = { name: 'deployed', without: [] };
const AGAIN = 'deployed, again';
const VARIANTS: Variant[] = [
  DEPLOYED,
  ...DEPENDENCY_PATCH_NAMES.map((p) => ({ name: `without ${p}`, without: [p] })),
  ...(DEPENDENCY_PATCH_NAMES.length > 1
    ? [{ name: 'without any', without: [...DEPENDENCY_PATCH_NAMES] }]
    : []),
];
const FIGURES = ['readyMs', 'firstEventMs', 'mainCpuMs', 'rssMiB'] as const;

/** The bundles to start for `fn`, by variant name: the deployed one twice, others where they differ. */
async function buildVariants(fn: string, dir: string): Promise<Map<string, string>> {
  const entries = new Map<string, string>();
  let deployedMain = '';
  for (const v of VARIANTS) {
    const entry = await buildFunction(fn, join(dir, v.name.replace(/[^a-z0-9]+/g, '-')), {
      without: v.without,
    });
    const main = readFileSync(join(entry, '..', 'main.cjs'), 'utf8');
    if (v === DEPLOYED) {
      deployedMain = main;
      entries.set(v.name, entry);
      entries.set(AGAIN, entry);
    } else if (main !== deployedMain) entries.set(v.name, entry);
  }
  return entries;
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (s.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (at - lo);
};

function summarize(fn: string, byVariant: Map<string, StartFigures[]>): string[][] {
  const deployed = byVariant.get(DEPLOYED.name) ?? [];
  return [...byVariant].map(([variant, runs]) => {
    const cells = [fn, variant];
    for (const k of FIGURES) {
      const xs = runs.map((r) => r[k]);
      const d = k === 'rssMiB' ? 1 : 0;
      cells.push(`${median(xs).toFixed(d)} (${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)})`);
    }
    for (const k of FIGURES) {
      if (variant === DEPLOYED.name) {
        cells.push('');
        continue;
      }
      const deltas = runs.map((r, i) => r[k] - (deployed[i]?.[k] ?? Number.NaN));
      const d = k === 'rssMiB' ? 2 : 1;
      const f = (n: number) => `${n >= 0 ? '+' : ''}${n.toFixed(d)}`;
      cells.push(`${f(median(deltas))} [${f(quantile(deltas, 0.25))}, ${f(quantile(deltas, 0.75))}]`);
    }
    return cells;
  });
}

function table(rows: string[][]): string {
  const w = (rows[0] as string[]).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(w[i] as number)).join(' | ')} |`;
  return [
    line(rows[0] as string[]),
    `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`,
    ...rows.slice(1).map(line),
  ].join('\n');
}

const dir = await mkdtemp(join(tmpdir(), 'kubeincident-patches-'));
const stops: Array<() => Promise<unknown>> = [];
try {
  const bundles = new Map<string, Map<string, string>>();
  for (const fn of FUNCTIONS) {
    process.stderr.write(`building ${fn} (${VARIANTS.map((v) => v.name).join('; ')}) ...\n`);
    bundles.set(fn, await buildVariants(fn, dir));
  }
  const base = await writeBaselines(dir);
  const { env } = await startFunctionPeers(dir, base.bare, stops);
  const figures = new Map(
    [...bundles].map(([fn, v]) => [fn, new Map([...v.keys()].map((k) => [k, [] as StartFigures[]]))]),
  );
  for (let round = 0; round < RUNS; round++) {
    process.stderr.write(`round ${round + 1} of ${RUNS} ...\n`);
    for (const [fn, variants] of bundles) {
      const names = [...variants.keys()];
      // Rotated each round, so no variant always follows the same one.
      const order = names.map((_, i) => names[(i + round) % names.length] as string);
      // dispatch-slack's starts share one Redis: its channel bucket would answer 429 from the
      // fourth start on, and its sixth new alert of the same group would fold into a storm.
      const fnEnv = {
        ...env[fn],
        SLACK_CHANNEL_RATE: '1000000',
        SLACK_CHANNEL_BURST: '1000000',
        STORM_THRESHOLD: '0',
      };
      for (const variant of order) {
        const entry = variants.get(variant) as string;
        const got = await startOnce(`${fn} ${variant}`, entry, fnEnv, () => fnRequest(fn), undefined, dir);
        figures.get(fn)?.get(variant)?.push(got);
      }
    }
  }
  const header = [
    'function',
    'build',
    'ready ms',
    'first event ms',
    'main thread CPU ms',
    'idle RSS MiB',
    'Δ ready ms',
    'Δ first event ms',
    'Δ CPU ms',
    'Δ idle RSS MiB',
  ];
  const rows = [...figures].flatMap(([fn, byVariant]) => summarize(fn, byVariant));
  console.log(`Node ${process.version}, ${RUNS} rounds, interleaved; median (range), Δ: median [IQR] of`);
  console.log(`each round's difference from that round's deployed start (positive: the patch buys it)\n`);
  console.log(table([header, ...rows]));
} finally {
  for (const stopIt of stops.reverse()) await stopIt().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
}
process.exit(0);
