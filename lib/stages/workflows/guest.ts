// What a workflow's code sees, as the guest-side JavaScript that wraps it: its module (transpiled
// from TypeScript to CommonJS by sucrase, in pure JS so it bundles into the function) and `ctx`,
// whose every capability is a host call through the sandbox's one JSON channel (sdk/workflow.d.ts
// types it). A `require` or `import()` the transpiler leaves finds no loader in the guest.
import { transform } from 'sucrase';

/** TypeScript source to a guest script defining `__workflow()`, its default export. Throws on syntax errors. */
export function compileWorkflow(source: string, file: string): string {
  const js = transform(source, { transforms: ['typescript', 'imports'], filePath: file }).code;
  return `var __module = { exports: {} };
(function (exports, module) {
${js}
})(__module.exports, __module);
function __workflow() {
  const d = __module.exports.default;
  if (d === null || typeof d !== 'object') throw new TypeError('the file must default-export a workflow object');
  return d;
}`;
}

/** The entry that reads a workflow's definition at load: its name and triggers, and whether it has run(). */
export const DEFINE_ENTRY = `function __main() {
  const d = __workflow();
  if (typeof d.run !== 'function') throw new TypeError('the workflow has no run(issue, ctx) function');
  return { name: d.name, triggers: d.triggers };
}`;

/** Input of one run: the issue and what ctx reports about itself. */
export interface RunInput {
  issue: unknown;
  workflow: string;
  /** The run's start (ISO 8601): the only clock a workflow has. */
  now: string;
  prometheus: boolean;
}

/** The entry of one run: builds ctx over the host channel and awaits run(issue, ctx). */
export const RUN_ENTRY = `async function __main(input) {
  const h = __host, f = Object.freeze;
  const log = (level) => (message, fields) => h.log(level, message, fields);
  const ctx = f({
    workflow: input.workflow,
    now: () => input.now,
    log: f({ debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') }),
    k8s: f({
      get: (ref) => h.call('k8s.get', ref),
      list: (query) => h.call('k8s.list', query),
      logs: (query) => h.call('k8s.logs', query),
    }),
    prometheus: input.prometheus ? f({ query: (query, opts) => h.call('prometheus.query', query, opts) }) : undefined,
    fetch: (url, init) => h.call('fetch', url, init),
  });
  return await __workflow().run(input.issue, ctx);
}`;
