// The demo's recorded cluster (scripts/demo/cluster/): real-shaped objects, served by the
// stand-in Kubernetes API server (scripts/kube-standin/) so that the enrichers read them through
// the real client path. Recorded at RECORDED_AT; every timestamp is moved so that moment is now,
// so ages ("restarted 3m ago") read as they did when it was recorded.
import {
  type KubeFixtures,
  type KubeStandin,
  loadKubeFixtures,
  startKubeStandin,
} from '../kube-standin/server.ts';

export const CLUSTER_DIR = new URL('./cluster/', import.meta.url).pathname;
export const RECORDED_AT = '2026-03-10T12:00:00Z';

const ISO_TIME = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?Z$/;

/**
 * A copy of `value` with every RFC 3339 UTC timestamp string moved by `ms` (rounded to whole
 * seconds), each keeping its own precision: whole seconds, or the micro times of eventTime.
 */
export function shiftTimes<T>(value: T, ms: number): T {
  if (typeof value === 'string') {
    const m = ISO_TIME.exec(value);
    if (!m) return value;
    const whole = Date.parse(`${m[1]}Z`) + Math.round(ms / 1000) * 1000;
    return `${new Date(whole).toISOString().slice(0, 19)}${m[2] ?? ''}Z` as T;
  }
  if (Array.isArray(value)) return value.map((v) => shiftTimes(v, ms)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shiftTimes(v, ms)])) as T;
  }
  return value;
}

/** The recorded cluster as of `now`. */
export async function loadDemoCluster(now = new Date()): Promise<KubeFixtures> {
  const recorded = await loadKubeFixtures(CLUSTER_DIR);
  const ms = now.getTime() - Date.parse(RECORDED_AT);
  const { logs, ...objects } = recorded;
  return { ...shiftTimes(objects, ms), logs };
}

/** The stand-in API server over the recorded cluster; its kubeconfig is what the functions get. */
export async function startDemoCluster(now = new Date()): Promise<KubeStandin> {
  return startKubeStandin(await loadDemoCluster(now));
}
