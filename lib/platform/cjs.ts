// Named exports of a CommonJS package loaded with import(): Node's ESM loader puts them on
// the namespace, an esbuild bundle only on `default`. Lazy imports go through this helper.
export function cjsExports<T extends object>(ns: T): T {
  const d = (ns as { default?: unknown }).default;
  if (d === null || (typeof d !== 'object' && typeof d !== 'function')) return ns;
  return { ...(d as object), ...ns } as T;
}
