// Key names. A thread's lock and state share one Redis Cluster hash tag ({...}), so scripts
// that touch both run on one shard.

export interface ThreadKeys {
  /** The tag, `{<destination>|<fingerprint>}`, for keys added later to the same thread. */
  tag: string;
  data: string;
  lock: string;
}

// Braces would end the hash tag early: then two different threads could share a slot (harmless)
// but also produce surprising keys; they never appear in Slack IDs or fingerprints anyway.
const untag = (s: string): string => s.replace(/[{}]/g, '_');

export function threadKeys(destinationId: string, fingerprint: string): ThreadKeys {
  const tag = `{${untag(destinationId)}|${untag(fingerprint)}}`;
  return { tag, data: `ki:${tag}:thread`, lock: `ki:${tag}:lock` };
}
