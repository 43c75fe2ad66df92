// What ioredis's Script module gets in the bundles when it requires `crypto` (scripts/build.ts).
// ioredis names every Lua script by its SHA-1, for EVALSHA, and computes it with node:crypto's
// createHash when a script is defined: at start-up, in every function that uses Redis. That one
// call brought node:crypto and OpenSSL's digest set-up into k8s-event-ingest, which has no other
// use for them; and hashing our scripts in JavaScript instead (a few kB, dozens of blocks) made
// V8 compile the hash with its optimizing compilers while the function started, which pages
// their code into every process. So the build hashes our scripts (SCRIPTS in redis.ts) with
// node:crypto and hands the digests in: a script's text found there costs a lookup. Any other
// text is hashed here (@noble/hashes, as lib/platform/digest.ts's SHA-256 is).
// Only what Script.js calls is provided; anything else throws rather than answer wrongly.
import { sha1 } from '@noble/hashes/legacy.js';
import { hexOf } from '../../platform/digest.ts';

interface Sha1Hash {
  update(data: string | Uint8Array): Sha1Hash;
  digest(encoding: 'hex'): string;
}

/** node:crypto's createHash, as far as ioredis's Script uses it, knowing `known` (text -> hex). */
export function scriptSha1(known: ReadonlyMap<string, string> = new Map()): {
  createHash(algorithm: string): Sha1Hash;
} {
  return {
    createHash(algorithm) {
      if (algorithm !== 'sha1')
        throw new Error(
          `ioredis asked for ${algorithm}; its bundled crypto provides sha1 only (scripts/build.ts)`,
        );
      const parts: Array<string | Uint8Array> = [];
      const hash: Sha1Hash = {
        update(data) {
          parts.push(data);
          return hash;
        },
        digest(encoding) {
          if (encoding !== 'hex')
            throw new Error(`ioredis asked for a ${encoding} digest; its bundled crypto gives hex only`);
          const only = parts.length === 1 ? parts[0] : undefined;
          const found = typeof only === 'string' ? known.get(only) : undefined;
          if (found !== undefined) return found;
          const h = sha1.create();
          for (const p of parts) h.update(typeof p === 'string' ? Buffer.from(p, 'utf8') : p);
          return hexOf(h.digest());
        },
      };
      return hash;
    },
  };
}
