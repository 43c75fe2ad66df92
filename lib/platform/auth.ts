// Webhook authentication for alert-ingest: Bearer or Basic, compared in constant time.
// A 401 never says which part was wrong.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { UnauthorizedError } from './errors.ts';

export interface WebhookAuth {
  bearerToken?: string | undefined;
  basicUser?: string | undefined;
  basicPassword?: string | undefined;
}

// Hashing first gives equal-length inputs, so timingSafeEqual leaks nothing about length.
// In the bundles node:crypto loads at the first check (scripts/build.ts), so alert-ingest
// without webhook credentials never loads OpenSSL's set-up (lib/platform/digest.ts).
function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

export function authEnabled(auth: WebhookAuth): boolean {
  return !!auth.bearerToken || (!!auth.basicUser && auth.basicPassword !== undefined);
}

/** Throws UnauthorizedError unless the request carries one of the configured credentials. */
export function checkAuth(headers: IncomingHttpHeaders, auth: WebhookAuth): void {
  if (!authEnabled(auth)) return;
  const header = headers.authorization ?? '';
  const space = header.indexOf(' ');
  const scheme = space > 0 ? header.slice(0, space).toLowerCase() : '';
  const value = space > 0 ? header.slice(space + 1).trim() : '';
  let ok = false;
  if (scheme === 'bearer' && auth.bearerToken) ok = safeEqual(value, auth.bearerToken);
  if (scheme === 'basic' && auth.basicUser && auth.basicPassword !== undefined) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    ok = safeEqual(decoded, `${auth.basicUser}:${auth.basicPassword}`);
  }
  if (!ok) throw new UnauthorizedError();
}
