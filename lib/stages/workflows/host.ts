// The host side of ctx: each capability a workflow may call, over the function's own clients.
// Arguments come from untrusted code, so each is checked here before anything is asked.

import type { PrometheusClient } from '../../adapters/prometheus/client.ts';
import { type FetchPolicy, guardedFetch } from '../../adapters/sandbox/guarded-fetch.ts';
import { prometheusQuery } from '../../adapters/sandbox/prometheus-query.ts';
import type { HostCall, SandboxHost } from '../../adapters/sandbox/sandbox.ts';
import { isReadableKind, type KubeReader, READABLE_KINDS } from '../../domain/kube.ts';
import type { Logger } from '../../platform/logger.ts';

export interface HostDeps {
  kube: KubeReader | undefined;
  /** The config's `prometheus:` client; an Error when its settings are unusable; undefined: no ctx.prometheus. */
  prometheus: PrometheusClient | Error | undefined;
  fetchPolicy: Omit<FetchPolicy, 'allowHosts'>;
  allowHosts: readonly string[];
  log: Logger;
}

const MAX_LOG_LINES = 50;
const MAX_LOG_BYTES = 256 * 1024;

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const optString = (v: unknown, what: string): string | undefined => {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > 512) throw new Error(`${what} must be a string`);
  return v;
};
const reqString = (v: unknown, what: string): string => {
  const s = optString(v, what);
  if (!s) throw new Error(`${what} is required`);
  return s;
};

function kubeCalls(kube: KubeReader | undefined): Record<string, HostCall> {
  const need = (): KubeReader => {
    if (!kube) throw new Error('no cluster access');
    return kube;
  };
  const kindOf = (v: unknown) => {
    if (!isReadableKind(v)) throw new Error(`kind must be one of ${Object.keys(READABLE_KINDS).join(', ')}`);
    return v;
  };
  return {
    'k8s.get': async ([ref], signal) => {
      const r = obj(ref);
      return need().getObject(
        kindOf(r.kind),
        reqString(r.name, 'name'),
        optString(r.namespace, 'namespace'),
        { signal },
      );
    },
    'k8s.list': async ([query], signal) => {
      const q = obj(query);
      const limit = typeof q.limit === 'number' ? Math.min(Math.max(1, Math.floor(q.limit)), 500) : 100;
      const labelSelector = optString(q.labelSelector, 'labelSelector');
      const fieldSelector = optString(q.fieldSelector, 'fieldSelector');
      const page = await need().listObjects(kindOf(q.kind), optString(q.namespace, 'namespace'), {
        limit,
        signal,
        ...(labelSelector === undefined ? {} : { labelSelector }),
        ...(fieldSelector === undefined ? {} : { fieldSelector }),
      });
      return { items: page.items, more: page.more };
    },
    'k8s.logs': async ([query], signal) => {
      const q = obj(query);
      const tailLines =
        typeof q.tailLines === 'number' ? Math.min(Math.max(1, Math.floor(q.tailLines)), 1000) : 100;
      return need().readPodLog(reqString(q.namespace, 'namespace'), reqString(q.pod, 'pod'), {
        container: optString(q.container, 'container') ?? '',
        previous: q.previous === true,
        tailLines,
        limitBytes: MAX_LOG_BYTES,
        signal,
      });
    },
  };
}

/** The capabilities of one run of one workflow, and its logger (a few lines at most). */
export function workflowHost(deps: HostDeps, workflow: string): SandboxHost {
  const log = deps.log.child({ workflow });
  let lines = 0;
  const calls: Record<string, HostCall> = {
    ...kubeCalls(deps.kube),
    fetch: ([url, init], signal) =>
      guardedFetch(url, obj(init) as never, { ...deps.fetchPolicy, allowHosts: deps.allowHosts }, signal),
  };
  if (deps.prometheus) {
    const prom = deps.prometheus;
    calls['prometheus.query'] = ([query, opts], signal) => prometheusQuery(prom, query, opts, signal);
  }
  return {
    calls,
    log: (level, message, fields) => {
      if (++lines > MAX_LOG_LINES) return;
      log[level]({ fields }, message);
    },
  };
}
