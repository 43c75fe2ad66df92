// One way to say what a zod schema refused: `path: message` for the first few issues, so a 400,
// a refused config file and a log line all read alike.
import type * as z from 'zod';

/** `alerts[0].labels: expected record; and 2 more` */
export function formatZodError(error: z.ZodError, max = 5): string {
  const parts = error.issues.slice(0, max).map((i) => {
    const path = i.path
      .map((p, n) => (typeof p === 'number' ? `[${p}]` : n === 0 ? String(p) : `.${String(p)}`))
      .join('');
    return `${path || '(root)'}: ${i.message}`;
  });
  if (error.issues.length > max) parts.push(`and ${error.issues.length - max} more`);
  return parts.join('; ');
}
