// Values as people read them on an axis and in a verdict: 509Mi, 0.25 cores, 42%. Apart from
// chart.ts so the verdicts never load the renderer.

export type ChartUnit = 'bytes' | 'cores' | 'ratio' | 'none';

const BYTE_UNITS = ['B', 'Ki', 'Mi', 'Gi', 'Ti'];

/** A value as people read it on the axis and in a verdict: 509Mi, 0.25 cores, 42%. */
export function formatValue(v: number, unit: ChartUnit): string {
  if (!Number.isFinite(v)) return String(v);
  if (unit === 'bytes') {
    let i = 0;
    let x = v;
    while (Math.abs(x) >= 1024 && i < BYTE_UNITS.length - 1) {
      x /= 1024;
      i++;
    }
    return `${round(x)}${BYTE_UNITS[i]}`;
  }
  if (unit === 'cores') return `${round(v)} cores`;
  if (unit === 'ratio') return `${round(v * 100)}%`;
  return round(v).toString();
}

function round(x: number): number {
  const a = Math.abs(x);
  return a >= 100 ? Math.round(x) : a >= 10 ? Math.round(x * 10) / 10 : Math.round(x * 100) / 100;
}
