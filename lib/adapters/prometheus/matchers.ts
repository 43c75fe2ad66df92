// Label matchers added to every selector of a PromQL expression (cluster="prod-eu" on a shared
// Thanos or Mimir), by parsing the expression: a text replacement would miss selectors without
// braces, inside functions or subqueries, and would edit string literals.
import { parser } from '@prometheus-io/lezer-promql';
import { PrometheusError } from './errors.ts';

/**
 * The expression with `matchers` (each `name="value"`, `name=~"re"`, ...) in every vector
 * selector. Throws a PrometheusError of kind `query` when the expression does not parse.
 */
export function injectMatchers(expr: string, matchers: readonly string[]): string {
  if (matchers.length === 0) return expr;
  const tree = parser.parse(expr);
  const inserts: Array<{ at: number; text: string }> = [];
  let broken: number | undefined;
  const added = matchers.join(',');
  tree.iterate({
    enter(ref) {
      if (ref.type.isError) broken ??= ref.from;
      if (ref.name !== 'VectorSelector') return;
      const node = ref.node;
      const braces = node.getChild('LabelMatchers');
      if (braces) {
        const empty = braces.firstChild === null;
        inserts.push({ at: braces.from + 1, text: empty ? added : `${added},` });
      } else {
        const name = node.getChild('Identifier');
        inserts.push({ at: name ? name.to : node.to, text: `{${added}}` });
      }
      return false;
    },
  });
  if (broken !== undefined)
    throw new PrometheusError('query', `cannot parse the expression near position ${broken}`);
  let out = expr;
  for (const { at, text } of inserts.sort((a, b) => b.at - a.at))
    out = out.slice(0, at) + text + out.slice(at);
  return out;
}
