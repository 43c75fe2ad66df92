// Parses one configuration document: YAML, `${ENV}` substitution for secrets, zod validation
// with errors that name the path, checks across sections. Its own module so the YAML parser
// loads only when a function has a CONFIG_FILE (load.ts imports it on demand).
import { parse as parseYaml } from 'yaml';
import { ConfigFileError } from '../../platform/errors.ts';
import { formatZodError } from '../../platform/zod.ts';
import { checkChangeTracking } from './change-rules.ts';
import { anchored, parseMatcher } from './match.ts';
import { Config } from './schema.ts';

type Path = Array<string | number>;
const pathText = (path: Path) =>
  path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('') || '(root)';

/** Replaces `${NAME}` in every string value; `$${NAME}` stays literal. A missing variable is an error. */
function substitute(value: unknown, env: NodeJS.ProcessEnv, path: Path, missing: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(
      /\$(\$)?\{([A-Za-z_][A-Za-z0-9_]*)\}/g,
      (whole, escaped: string | undefined, name: string) => {
        if (escaped) return whole.slice(1);
        const v = env[name];
        if (v === undefined) missing.push(`${pathText(path)}: environment variable ${name} is not set`);
        return v ?? '';
      },
    );
  }
  if (Array.isArray(value)) return value.map((v, i) => substitute(v, env, [...path, i], missing));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, substitute(v, env, [...path, k], missing)]),
    );
  }
  return value;
}

/** Checks zod cannot express: references between sections, regexes and time zones that compile. */
function crossCheck(config: Config): string[] {
  const problems: string[] = [];
  const names = new Set<string>();
  config.destinations.forEach((d, i) => {
    if (names.has(d.name)) problems.push(`destinations[${i}].name: duplicate destination "${d.name}"`);
    names.add(d.name);
  });
  const known = (list: string[], at: string) =>
    list.forEach((n, i) => {
      if (n !== 'default' && !names.has(n)) problems.push(`${at}[${i}]: unknown destination "${n}"`);
    });
  config.routes.forEach((r, i) => {
    known(r.destinations, `routes[${i}].destinations`);
    const regexes = [
      ...[r.match.namespace ?? [], r.match.kind ?? []].flat(),
      ...Object.values(r.match.labels ?? {}),
    ].filter((m): m is { regex: string } => typeof m === 'object');
    for (const m of regexes) {
      try {
        anchored(m.regex);
      } catch {
        problems.push(`routes[${i}].match: invalid regex ${JSON.stringify(m.regex)}`);
      }
    }
  });
  if (config.defaultRoute) known(config.defaultRoute.destinations, 'defaultRoute.destinations');
  problems.push(...checkChangeTracking(config.changeTracking, names));
  const matchers: Array<[string, string[] | undefined]> = [
    ...config.silences.map((s, i): [string, string[] | undefined] => [`silences[${i}].matchers`, s.matchers]),
    ...config.customWorkflows.flatMap((w, i) =>
      w.triggers.map((t, j): [string, string[] | undefined] => [
        `customWorkflows[${i}].triggers[${j}].matchers`,
        t.on === 'alert' ? t.matchers : undefined,
      ]),
    ),
  ];
  for (const [at, list] of matchers) {
    (list ?? []).forEach((m, k) => {
      try {
        parseMatcher(m);
      } catch {
        problems.push(`${at}[${k}]: invalid regex in ${JSON.stringify(m)}`);
      }
    });
  }
  config.silences.forEach((s, i) => {
    (s.windows ?? []).forEach((w, j) => {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: w.timezone });
      } catch {
        problems.push(`silences[${i}].windows[${j}].timezone: unknown time zone "${w.timezone}"`);
      }
    });
  });
  return problems;
}

/** Parses and validates one configuration document; throws ConfigFileError listing every problem. */
export function parseConfig(text: string, env: NodeJS.ProcessEnv = process.env): Config {
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (err) {
    throw new ConfigFileError(`not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const missing: string[] = [];
  const substituted = substitute(raw, env, [], missing);
  if (missing.length) throw new ConfigFileError(missing.join('; '));
  const parsed = Config.safeParse(substituted);
  if (!parsed.success) throw new ConfigFileError(formatZodError(parsed.error, 10));
  const problems = crossCheck(parsed.data);
  if (problems.length) throw new ConfigFileError(problems.join('; '));
  return parsed.data;
}
