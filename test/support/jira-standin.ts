// Jira Cloud's REST v3 at its HTTP boundary: basic auth (401 as Jira words it), issue creation
// with its field errors and ADF validation of descriptions and comments (400), transitions by
// id among those leading away from the current status, attachments only with the XSRF header.
import { type Answer, json, type Standin, serve, type Tls } from './http-standin.ts';

export interface JiraIssue {
  key: string;
  fields: Record<string, unknown>;
  status: string;
  comments: unknown[];
  attachments: string[];
  created: string;
}

export interface JiraStandin extends Standin {
  issues: Map<string, JiraIssue>;
  email: string;
  token: string;
}

const BLOCKS = new Set(['paragraph', 'heading', 'bulletList', 'codeBlock']);
const MARKS = new Set(['link', 'strong', 'em', 'code']);

/** Why Jira would refuse this ADF document, or undefined. */
export function adfProblem(node: unknown, parent = 'root'): string | undefined {
  const n = node as Record<string, unknown>;
  if (typeof n !== 'object' || n === null || typeof n.type !== 'string') return `${parent}: not a node`;
  const kids = (n.content ?? []) as unknown[];
  if (!Array.isArray(kids)) return `${n.type}: content is not an array`;
  const check = (allowed: (t: string) => boolean) => {
    for (const k of kids) {
      const t = (k as { type?: string })?.type ?? '?';
      if (!allowed(t)) return `${n.type} cannot hold ${t}`;
      const p = adfProblem(k, n.type as string);
      if (p) return p;
    }
    return undefined;
  };
  switch (n.type) {
    case 'doc':
      if (parent !== 'root' || n.version !== 1) return 'doc: version must be 1 at the root';
      return check((t) => BLOCKS.has(t));
    case 'paragraph':
      return check((t) => t === 'text');
    case 'heading': {
      const level = (n.attrs as { level?: number } | undefined)?.level;
      if (!level || level < 1 || level > 6) return 'heading: level must be 1-6';
      return check((t) => t === 'text');
    }
    case 'bulletList':
      if (kids.length === 0) return 'bulletList: must hold at least one listItem';
      return check((t) => t === 'listItem');
    case 'listItem':
      if (kids.length === 0) return 'listItem: must hold content';
      return check((t) => t === 'paragraph' || t === 'bulletList' || t === 'codeBlock');
    case 'codeBlock':
      for (const k of kids) if ((k as { marks?: unknown }).marks) return 'codeBlock: text cannot carry marks';
      return check((t) => t === 'text');
    case 'text': {
      if (typeof n.text !== 'string' || n.text.length === 0) return 'text: must not be empty';
      for (const m of (n.marks ?? []) as Array<{ type?: string; attrs?: { href?: unknown } }>) {
        if (!MARKS.has(m.type ?? '')) return `text: unknown mark ${m.type}`;
        if (m.type === 'link' && typeof m.attrs?.href !== 'string') return 'link: href required';
      }
      return undefined;
    }
    default:
      return `unknown node type ${n.type}`;
  }
}

const jiraError = (status: number, errors: Record<string, string>, errorMessages: string[] = []): Answer => ({
  status,
  body: { errorMessages, errors },
});

const STATUSES = ['To Do', 'In Progress', 'Done'];

export async function startJiraStandin(project = 'OPS', tls?: Tls): Promise<JiraStandin> {
  const email = 'oncall@example.com';
  const token = 'ATATT3xFfGF0standinJiraToken';
  const issues = new Map<string, JiraIssue>();
  let next = 1;
  const s = await serve((c, url) => {
    const auth = `Basic ${Buffer.from(`${email}:${token}`).toString('base64')}`;
    if (c.headers.authorization !== auth)
      return {
        status: 401,
        body: { errorMessages: ['Client must be authenticated to access this resource.'], errors: {} },
      };
    if (c.method === 'POST' && c.path === '/rest/api/3/issue') {
      const f = (json(c)?.fields ?? {}) as Record<string, unknown>;
      const errors: Record<string, string> = {};
      if ((f.project as { key?: string })?.key !== project) errors.project = 'valid project is required';
      if (!(f.issuetype as { name?: string })?.name) errors.issuetype = 'Specify an issue type';
      if (typeof f.summary !== 'string' || !f.summary)
        errors.summary = 'You must specify a summary of the issue.';
      else if (f.summary.length > 255) errors.summary = 'Summary must be less than 255 characters.';
      if (f.description !== undefined && adfProblem(f.description))
        errors.description =
          'Operation value must be an Atlassian Document (see the Atlassian Document Format)';
      if (Object.keys(errors).length) return jiraError(400, errors);
      const key = `${project}-${next++}`;
      issues.set(key, {
        key,
        fields: f,
        status: 'To Do',
        comments: [],
        attachments: [],
        created: new Date().toISOString().replace('Z', '+0000'),
      });
      return {
        status: 201,
        body: { id: String(10000 + next), key, self: `${s.url}/rest/api/3/issue/${key}` },
      };
    }
    // The enhanced search (no `total`, `isLast` instead); only the label clause is understood.
    if (c.method === 'GET' && c.path === '/rest/api/3/search/jql') {
      const jql = url.searchParams.get('jql') ?? '';
      const label = /labels = "([^"]+)"/.exec(jql)?.[1];
      if (!label) return jiraError(400, {}, [`Error in the JQL Query: ${jql}`]);
      const found = [...issues.values()]
        .filter((i) => (i.fields.labels as string[] | undefined)?.includes(label))
        .reverse()
        .map((i) => ({ id: i.key, key: i.key, fields: { created: i.created } }));
      return { status: 200, body: { issues: found, isLast: true } };
    }
    const m = /^\/rest\/api\/3\/issue\/([^/]+)(?:\/(comment|transitions|attachments))?$/.exec(c.path);
    const issue = m ? issues.get(decodeURIComponent(m[1] as string)) : undefined;
    if (!m || !issue)
      return jiraError(404, {}, ['Issue does not exist or you do not have permission to see it.']);
    switch (`${c.method} ${m[2] ?? ''}`) {
      case 'GET ':
        return { status: 200, body: { key: issue.key, fields: { status: { name: issue.status } } } };
      case 'POST comment': {
        const body = json(c)?.body;
        if (adfProblem(body)) return jiraError(400, { comment: 'Comment body is not valid ADF.' });
        issue.comments.push(body);
        return { status: 201, body: { id: String(issue.comments.length) } };
      }
      case 'GET transitions':
        return {
          status: 200,
          body: {
            transitions: STATUSES.filter((st) => st !== issue.status).map((st) => ({
              id: String(11 + STATUSES.indexOf(st) * 10),
              name: st,
              to: { name: st },
            })),
          },
        };
      case 'POST transitions': {
        const id = (json(c)?.transition as { id?: string })?.id;
        const to = STATUSES.find(
          (st) => String(11 + STATUSES.indexOf(st) * 10) === id && st !== issue.status,
        );
        if (!to) return jiraError(400, {}, [`Transition id '${id}' is not valid for this issue.`]);
        issue.status = to;
        return { status: 204 };
      }
      case 'POST attachments': {
        if (c.headers['x-atlassian-token'] !== 'no-check') return { status: 403, body: 'XSRF check failed' };
        const names = [...c.body.matchAll(/filename="([^"]+)"/g)].map((x) => x[1] as string);
        if (!String(c.headers['content-type']).startsWith('multipart/form-data') || names.length === 0)
          return jiraError(415, {}, ['The request must be multipart/form-data with a file.']);
        issue.attachments.push(...names);
        return { status: 200, body: names.map((filename, i) => ({ id: String(i + 1), filename })) };
      }
      default:
        return { status: 405 };
    }
  }, tls);
  return Object.assign(s, { issues, email, token });
}
