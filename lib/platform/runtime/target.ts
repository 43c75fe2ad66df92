// The request target of an incoming request (RFC 9112 §3.2) as a path and a query, or undefined
// when it is not one a server of ours can answer. Shared by the function runtime and the local
// broker: anything a client sends there must end in a 4xx, never in a thrown TypeError.

export interface RequestTarget {
  pathname: string;
  query: URLSearchParams;
}

// Paths made only of plain segments read the same raw and parsed: no URL object per request.
const PLAIN_PATH = /^(?:\/[A-Za-z0-9_~-]+)*\/?$/;
const ABSOLUTE = /^https?:\/\//i;

/**
 * Origin form (`/path?query`) is split at the first `?` and taken as written: `//` is the path
 * `//`, not a URL without a host, so no client can make `new URL()` throw (it did, outside any
 * handler, and the process died). Absolute form (`http://host/path`, which proxies send) is
 * parsed as a URL; asterisk form (`*`, OPTIONS only) and anything else is refused.
 */
export function parseRequestTarget(raw: string | undefined): RequestTarget | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (PLAIN_PATH.test(raw)) return { pathname: raw, query: new URLSearchParams() };
  if (raw.charCodeAt(0) === 0x2f /* / */) {
    const q = raw.indexOf('?');
    if (q < 0) return { pathname: raw, query: new URLSearchParams() };
    return { pathname: raw.slice(0, q), query: new URLSearchParams(raw.slice(q + 1)) };
  }
  if (!ABSOLUTE.test(raw) || !URL.canParse(raw)) return undefined;
  const url = new URL(raw);
  return { pathname: url.pathname, query: url.searchParams };
}
