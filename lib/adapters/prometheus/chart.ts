// Charts as PNG in-process: echarts draws SVG on the server, resvg turns it into pixels with a
// bundled font (no browser, no system fonts). Both are loaded on the first chart only, so a
// process that never draws pays nothing for them.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

import { type ChartUnit, formatValue } from './format.ts';

export type { ChartUnit };

export interface ChartSeries {
  name: string;
  points: ReadonlyArray<readonly [number, number]>;
}

export interface ChartSpec {
  title: string;
  unit: ChartUnit;
  /** Unix seconds: the x axis spans exactly this window. */
  start: number;
  end: number;
  series: readonly ChartSeries[];
  /** Horizontal lines such as a limit and a request. */
  lines?: ReadonlyArray<{ name: string; value: number; color: string }>;
  /** Vertical marks such as OOM kills. */
  marks?: ReadonlyArray<{ time: number; label: string }>;
}

export const CHART_WIDTH = 1200;
export const CHART_HEIGHT = 500;
/** The plot area's box in pixels (the grid below), so a test can find a value's row. */
export const PLOT = { left: 90, right: 30, top: 60, bottom: 90 } as const;

// One palette on an opaque white card: it reads the same in Slack's light and dark themes.
const PALETTE = ['#2f6fbf', '#e08a00', '#2a9d55', '#8e44ad', '#c0392b', '#16a2b8', '#7f8c8d', '#d35400'];
const TEXT = '#1f2328';
const GRID = '#d0d7de';

let engines:
  | Promise<{ echarts: typeof import('echarts'); Resvg: typeof import('@resvg/resvg-js').Resvg }>
  | undefined;
let font: string | undefined;

/** Draws the chart as a PNG of CHART_WIDTH x CHART_HEIGHT pixels. */
export async function renderChart(spec: ChartSpec): Promise<Buffer> {
  engines ??= loadEngines();
  const { echarts, Resvg } = await engines;
  const chart = echarts.init(null, null, {
    renderer: 'svg',
    ssr: true,
    width: CHART_WIDTH,
    height: CHART_HEIGHT,
  });
  let svg: string;
  try {
    chart.setOption(chartOption(spec));
    svg = chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
  font ??= fontFile();
  const ttf = font;
  const png = new Resvg(svg, {
    background: '#ffffff',
    font: { loadSystemFonts: false, fontFiles: [ttf], defaultFontFamily: 'DejaVu Sans' },
  }).render();
  return png.asPng();
}

async function loadEngines() {
  const [echarts, resvg] = await Promise.all([import('echarts'), import('@resvg/resvg-js')]);
  // Without a canvas echarts guesses text widths too narrow for the bundled font, and legend
  // entries run into each other: it measures with the font's own proportions instead.
  echarts.setPlatformAPI({ measureText: (text, font) => ({ width: textWidth(text, fontPx(font)) }) });
  return { echarts, Resvg: resvg.Resvg };
}

function fontPx(font: string | undefined): number {
  return Number(/(\d+(?:\.\d+)?)px/.exec(font ?? '')?.[1] ?? 12);
}

/** DejaVu Sans advance widths in ems, by class of character (a little wide rather than narrow). */
function charEm(c: string): number {
  if (" .,:;|!'".includes(c)) return 0.33;
  if ('ijl'.includes(c)) return 0.29;
  if ('ftr-'.includes(c)) return 0.41;
  if ('mw'.includes(c)) return 0.96;
  if ('MW'.includes(c)) return 0.88;
  if ('=+<>~'.includes(c)) return 0.84;
  if ('()[]{}/\\'.includes(c)) return 0.4;
  if (c >= '0' && c <= '9') return 0.64;
  if (c >= 'a' && c <= 'z') return 0.62;
  if (c >= 'A' && c <= 'Z') return 0.74;
  return 0.66;
}

/** A text's width in pixels at `px`, as the legend layout and echarts both count it. */
export function textWidth(text: string, px: number): number {
  let em = 0;
  for (const c of text) em += charEm(c);
  return em * px;
}

const LEGEND_PX = 13;
const LEGEND_GAP = 24;
const LEGEND_ROW = 22;

/** Rows the legend takes: entries of icon + text, wrapped at the plot's width. */
function legendRows(names: readonly string[]): number {
  const room = CHART_WIDTH - PLOT.left - PLOT.right;
  let rows = 1;
  let x = 0;
  for (const n of names) {
    const w = 30 + textWidth(n, LEGEND_PX);
    if (x > 0 && x + w > room) {
      rows++;
      x = 0;
    }
    x += w + LEGEND_GAP;
  }
  return rows;
}

/**
 * The bundled TTF: next to the bundle (dist/<fn>/DejaVuSans.ttf, copied by scripts/build.ts), or
 * from the dejavu-fonts-ttf package when running from source.
 */
export function fontFile(): string {
  const here = typeof __dirname === 'string' ? __dirname : dirname(new URL(import.meta.url).pathname);
  const beside = join(here, 'DejaVuSans.ttf');
  if (existsSync(beside)) return beside;
  return createRequire(import.meta.url).resolve('dejavu-fonts-ttf/ttf/DejaVuSans.ttf');
}

/** Reads the font once (tests check it is a TrueType file). */
export function fontBytes(): Buffer {
  return readFileSync(fontFile());
}

function chartOption(spec: ChartSpec) {
  const fmt = (v: number) => formatValue(v, spec.unit);
  const lines = spec.lines ?? [];
  const marks = spec.marks ?? [];
  // Lines drawn as their own flat series so they appear in the legend with their values.
  const lineSeries = lines.map((l) => ({
    name: `${l.name} ${fmt(l.value)}`,
    type: 'line',
    data: [
      [spec.start * 1000, l.value],
      [spec.end * 1000, l.value],
    ],
    symbol: 'none',
    lineStyle: { color: l.color, width: 2, type: 'dashed' },
    itemStyle: { color: l.color },
    animation: false,
    silent: true,
  }));
  const dataSeries = spec.series.map((s, i) => ({
    name: s.name,
    type: 'line',
    data: s.points.map(([t, v]) => [t * 1000, v]),
    showSymbol: false,
    lineStyle: { width: 2, color: PALETTE[i % PALETTE.length] },
    itemStyle: { color: PALETTE[i % PALETTE.length] },
    animation: false,
    ...(i === 0 && marks.length
      ? {
          markLine: {
            symbol: 'none',
            silent: true,
            lineStyle: { color: '#c0392b', width: 2, type: 'solid' },
            label: { formatter: '{b}', color: '#c0392b', fontSize: 13 },
            data: marks.map((m) => ({ name: m.label, xAxis: m.time * 1000 })),
          },
        }
      : {}),
  }));
  const legend = [...dataSeries.map((s) => s.name), ...lineSeries.map((s) => s.name)];
  const extraRows = legendRows(legend) - 1;
  const max = Math.max(
    0,
    ...lines.map((l) => l.value),
    ...spec.series.flatMap((s) => s.points.map((p) => p[1])),
  );
  return {
    useUTC: true,
    animation: false,
    backgroundColor: '#ffffff',
    textStyle: { fontFamily: 'DejaVu Sans', color: TEXT },
    title: {
      text: spec.title,
      left: PLOT.left,
      top: 14,
      textStyle: { fontSize: 18, color: TEXT, fontWeight: 'normal' },
    },
    // The plot gives up height to a legend of more than one row, so it never covers the axis.
    grid: { ...PLOT, bottom: PLOT.bottom + extraRows * LEGEND_ROW, containLabel: false },
    legend: {
      bottom: 10,
      left: PLOT.left,
      right: PLOT.right,
      type: 'plain',
      itemGap: LEGEND_GAP,
      textStyle: { color: TEXT, fontSize: LEGEND_PX },
      data: legend,
    },
    xAxis: {
      type: 'time',
      min: spec.start * 1000,
      max: spec.end * 1000,
      name: 'UTC',
      nameLocation: 'end',
      nameTextStyle: { color: TEXT, fontSize: 12, padding: [28, 0, 0, 0] },
      axisLabel: {
        color: TEXT,
        fontSize: 12,
        hideOverlap: true,
        formatter: (v: number) => utcLabel(v, spec),
      },
      axisLine: { lineStyle: { color: TEXT } },
      splitLine: { show: true, lineStyle: { color: GRID } },
    },
    yAxis: {
      type: 'value',
      min: 0,
      ...(spec.unit === 'bytes' ? byteAxis(max) : { max: niceMax(max) }),
      axisLabel: { color: TEXT, fontSize: 12, formatter: fmt },
      splitLine: { lineStyle: { color: GRID } },
    },
    series: [...dataSeries, ...lineSeries],
  };
}

/** The y axis top: a little above the highest value or line, so a limit line is never the frame. */
function niceMax(max: number): number {
  if (max <= 0) return 1;
  const padded = max * 1.1;
  const mag = 10 ** Math.floor(Math.log10(padded));
  for (const step of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (step * mag >= padded) return step * mag;
  return padded;
}

/**
 * The same in binary units, with the tick step too: echarts would split 300Mi into steps of 50 MB
 * (47.7Mi); here the ticks fall on round Mi or Gi (0, 50Mi, 100Mi, ... 300Mi).
 */
function byteAxis(max: number): { max: number; interval: number } {
  if (max <= 0) return { max: 1024, interval: 256 };
  const scale = 1024 ** Math.max(0, Math.floor(Math.log(max) / Math.log(1024)));
  const top = niceMax(max / scale);
  const raw = top / 6;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((s) => s * mag >= raw) ?? 10) * mag;
  return { max: Math.ceil(top / step - 1e-9) * step * scale, interval: step * scale };
}

function utcLabel(ms: number, spec: ChartSpec): string {
  const iso = new Date(ms).toISOString();
  const multiDay = spec.end - spec.start > 86_400;
  return multiDay ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : iso.slice(11, 16);
}
