// Secrets in container logs are redacted before the logs leave the cluster: built-in patterns for
// the usual leaks (passwords, tokens, keys, bearer headers, URL credentials, AWS keys, private
// key blocks) plus the operator's own from LOG_REDACT_PATTERNS.
import { ConfigError } from '../../platform/errors.ts';

export const REDACTED = '[REDACTED]';

/** A pattern with a `secret` named group replaces only that group; otherwise the whole match. */
export const DEFAULT_REDACT_PATTERNS: readonly RegExp[] = [
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g,
  /\bauthorization\s*["']?\s*[:=]\s*["']?(?:(?:bearer|basic|token|digest)\s+)?(?<secret>[^\s"',;]+)/gi,
  /\bbearer\s+(?<secret>[A-Za-z0-9._~+/=-]{8,})/gi,
  /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}/g,
  /[A-Za-z0-9_.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential)[A-Za-z0-9_.-]*["']?\s*[:=]\s*["']?(?<secret>[^\s"',;&]+)/gi,
  /(?<=[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:)(?<secret>[^@\s/]+)(?=@)/gi,
  /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g,
  /\bxox[abprs]-[A-Za-z0-9-]{10,}/g,
  /\bgh[pousr]_[A-Za-z0-9]{36,}\b/g,
];

/**
 * Parses LOG_REDACT_PATTERNS: a JSON array of regular expressions, or one per line. They are
 * added to the built-in ones and matched case-sensitively (use `(?i:...)` to ignore case).
 * Throws ConfigError on a pattern that does not compile, so the enricher refuses to start.
 */
export function compileRedactPatterns(spec: string | undefined): RegExp[] {
  const patterns = [...DEFAULT_REDACT_PATTERNS];
  if (spec === undefined || spec.trim() === '') return patterns;
  let sources: unknown;
  if (spec.trim().startsWith('[')) {
    try {
      sources = JSON.parse(spec);
    } catch {
      throw new ConfigError('invalid configuration: LOG_REDACT_PATTERNS is not a JSON array of strings');
    }
  } else sources = spec.split('\n').filter((s) => s.trim() !== '');
  if (!Array.isArray(sources) || sources.some((s) => typeof s !== 'string' || s === '')) {
    throw new ConfigError('invalid configuration: LOG_REDACT_PATTERNS is not a JSON array of strings');
  }
  for (const source of sources as string[]) {
    try {
      patterns.push(new RegExp(source, 'g'));
    } catch (err) {
      throw new ConfigError(`invalid configuration: LOG_REDACT_PATTERNS: ${(err as Error).message}`);
    }
  }
  return patterns;
}

/** Replaces every secret the patterns find; returns the text and how many were replaced. */
export function redact(text: string, patterns: readonly RegExp[]): { text: string; count: number } {
  let count = 0;
  let out = text;
  for (const re of patterns) {
    out = out.replace(re, (...args: unknown[]) => {
      const match = args[0] as string;
      const groups = args.at(-1);
      const secret =
        typeof groups === 'object' && groups !== null ? (groups as Record<string, string>).secret : undefined;
      if (match === '' || secret === REDACTED) return match;
      count++;
      if (secret === undefined) return REDACTED;
      // The secret group is the match's tail in every built-in pattern; keep what precedes it.
      const at = match.lastIndexOf(secret);
      return at < 0 ? REDACTED : `${match.slice(0, at)}${REDACTED}${match.slice(at + secret.length)}`;
    });
  }
  return { text: out, count };
}
