// SHA-256 for ids and fingerprints (occurrence ids, alert and event fingerprints), computed in
// JavaScript by @noble/hashes instead of node:crypto. The digests are the same; what changes is
// what a function loads: node:crypto's first use brings OpenSSL's digest set-up and about twenty
// internal modules, megabytes of idle RSS in an ingest function that has no other use for
// OpenSSL (`npm run bench`, idle RSS). Nothing here is a secret: credentials are compared with
// node:crypto (lib/platform/auth.ts).
import { sha256 } from '@noble/hashes/sha2.js';

/** Lower-case hex of a digest's bytes (Buffer's native encoder, no copy). */
export const hexOf = (d: Uint8Array): string =>
  Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('hex');

/** Lower-case hex SHA-256 of the UTF-8 bytes of `text`. */
export function sha256Hex(text: string): string {
  return hexOf(sha256(Buffer.from(text, 'utf8')));
}
