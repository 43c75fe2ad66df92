// A stand-in for the Slack Web API at its HTTP boundary: answers like Slack, enforces Slack's
// message limits with Slack's error codes, and records every call. Node builtins only, so the
// end-to-end test can point child processes at it through SLACK_API_URL.
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

export interface StandinCall {
  method: string;
  params: Record<string, unknown>;
  headers: IncomingHttpHeaders;
  /** When the call arrived (Date.now()), for rate checks over recorded calls. */
  at: number;
}

export interface StandinEdit {
  text: unknown;
  blocks: unknown;
  attachments: unknown;
}

export interface StandinMessage {
  channel: string;
  ts: string;
  thread_ts?: string;
  text?: string;
  blocks?: unknown[];
  metadata?: { event_type: string; event_payload: unknown };
  attachments?: unknown[];
  reply_broadcast?: boolean;
  /** Every parameter of the post, as Slack received it (link_names, parse, ...). */
  params: Record<string, unknown>;
  /** Earlier versions, oldest first; the fields above are the current one. */
  edits: StandinEdit[];
}

export interface StandinFile {
  id: string;
  filename: string;
  length: number;
  title?: string;
  content?: string;
  /** The uploaded bytes as sent (a PNG stays binary; `content` is their UTF-8 reading). */
  bytes?: Buffer;
  channel?: string;
  thread_ts?: string;
  initial_comment?: string;
  completed: boolean;
}

export type Fault =
  | { status: 429; retryAfter: number }
  | { status: number }
  | { error: string }
  | { delayMs: number };

export interface StandinOptions {
  token?: string;
  channels?: string[];
  /** Serve https with this key and certificate, as slack.com does (the client must trust its CA). */
  tls?: { key: string; cert: string };
}

export interface SlackStandin {
  /** Base URL ending in /api/, for WebClient's slackApiUrl or SLACK_API_URL. */
  url: string;
  token: string;
  calls: StandinCall[];
  messages: Map<string, StandinMessage[]>;
  files: StandinFile[];
  /** Applies `fault` to the next `times` calls of `method` ('*' for any method, 'upload' for file bytes). */
  injectFault(method: string, fault: Fault, times?: number): void;
  /** Replies in a thread, oldest first. */
  replies(channel: string, threadTs: string): StandinMessage[];
  close(): Promise<void>;
}

const JSON_PARAMS = new Set(['blocks', 'attachments', 'files', 'metadata']);

function parseForm(body: string): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(body)) {
    if (JSON_PARAMS.has(k)) {
      try {
        params[k] = JSON.parse(v);
      } catch {
        params[k] = v;
      }
    } else params[k] = v;
  }
  return params;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function textLength(t: unknown): number {
  return typeof t === 'object' && t !== null && typeof (t as { text?: unknown }).text === 'string'
    ? (t as { text: string }).text.length
    : 0;
}

/** Why Slack refused a message: its error code and the detail it adds in response_metadata. */
export interface MessageProblem {
  error: string;
  detail?: string;
}

/** Slack's table block limits (docs.slack.dev/reference/block-kit/blocks/table-block). */
const TABLE = { rows: 100, cells: 20, settings: 20 } as const;
/**
 * Characters across every table cell of a message: documented for data tables, and reported
 * for table blocks by apps whose larger tables Slack refused.
 */
const TABLE_CELL_CHARS = 10_000;

/** The text a cell shows, or undefined when Slack would refuse the cell. */
function cellText(cell: unknown): string | undefined {
  if (typeof cell !== 'object' || cell === null) return undefined;
  const c = cell as { type?: unknown; text?: unknown; elements?: unknown; value?: unknown };
  if (c.type === 'raw_text' || c.type === 'raw_number') {
    if (c.type === 'raw_number' && typeof c.value !== 'number') return undefined;
    return typeof c.text === 'string' && c.text.length > 0 ? c.text : undefined;
  }
  if (c.type === 'rich_text' && Array.isArray(c.elements) && c.elements.length > 0) {
    return JSON.stringify(c.elements);
  }
  return undefined;
}

/** A table block's own checks; returns what Slack would say, and counts its cells' characters. */
function tableProblem(b: Record<string, unknown>, at: string, chars: { n: number }): string | undefined {
  const rows = b.rows;
  if (!Array.isArray(rows) || rows.length === 0) return `missing required field: rows [${at}]`;
  if (rows.length > TABLE.rows) return `must be no more than ${TABLE.rows} items [${at}/rows]`;
  for (const [r, row] of rows.entries()) {
    if (!Array.isArray(row) || row.length === 0) return `must be a non-empty array [${at}/rows/${r}]`;
    if (row.length > TABLE.cells) return `must be no more than ${TABLE.cells} items [${at}/rows/${r}]`;
    for (const [c, cell] of row.entries()) {
      const text = cellText(cell);
      if (text === undefined) return `failed to match any allowed schemas [${at}/rows/${r}/${c}]`;
      chars.n += text.length;
    }
  }
  const settings = b.column_settings;
  if (settings === undefined) return undefined;
  if (!Array.isArray(settings) || settings.length > TABLE.settings)
    return `must be no more than ${TABLE.settings} items [${at}/column_settings]`;
  for (const [i, s] of settings.entries()) {
    if (s === null) continue;
    const { align, is_wrapped } = (typeof s === 'object' ? s : {}) as Record<string, unknown>;
    if (
      typeof s !== 'object' ||
      (align !== undefined && !['left', 'center', 'right'].includes(align as string))
    )
      return `failed to match any allowed schemas [${at}/column_settings/${i}]`;
    if (is_wrapped !== undefined && typeof is_wrapped !== 'boolean')
      return `must be a boolean [${at}/column_settings/${i}/is_wrapped]`;
  }
  return undefined;
}

/** Slack's checks on one list of blocks (top-level or an attachment's), at JSON pointer `at`. */
function blockProblem(
  blocks: unknown,
  at: string,
  tables: { n: number; chars: { n: number } },
): MessageProblem | undefined {
  if (!Array.isArray(blocks)) return { error: 'invalid_blocks_format' };
  if (blocks.length > 50) return { error: 'invalid_blocks' };
  for (const [i, b] of (blocks as Array<Record<string, unknown>>).entries()) {
    if (typeof b !== 'object' || b === null || typeof b.type !== 'string') return { error: 'invalid_blocks' };
    if (typeof b.block_id === 'string' && b.block_id.length > 255) return { error: 'invalid_blocks' };
    if (b.type === 'header') {
      const t = b.text as { type?: string } | undefined;
      if (t?.type !== 'plain_text' || textLength(t) > 150 || textLength(t) === 0)
        return { error: 'invalid_blocks' };
    }
    if (b.type === 'section') {
      if (b.text === undefined && b.fields === undefined) return { error: 'invalid_blocks' };
      if (b.text !== undefined && (textLength(b.text) > 3000 || textLength(b.text) === 0))
        return { error: 'invalid_blocks' };
      if (b.fields !== undefined) {
        if (!Array.isArray(b.fields) || b.fields.length > 10 || b.fields.length === 0)
          return { error: 'invalid_blocks' };
        if (b.fields.some((f) => textLength(f) > 2000 || textLength(f) === 0))
          return { error: 'invalid_blocks' };
      }
    }
    if (b.type === 'context') {
      if (!Array.isArray(b.elements) || b.elements.length === 0 || b.elements.length > 10)
        return { error: 'invalid_blocks' };
      if (b.elements.some((e) => textLength(e) > 3000)) return { error: 'invalid_blocks' };
    }
    if (b.type === 'table') {
      // Slack's reference documents table blocks in an attachment's blocks; apps report
      // invalid_blocks for one in the top-level blocks, so the stand-in holds us to attachments.
      if (!at.startsWith('/attachments/'))
        return { error: 'invalid_blocks', detail: `table blocks go in attachments [${at}/${i}]` };
      // One table a message; Slack names the second one this way.
      if (++tables.n > 1) return { error: 'invalid_attachments', detail: 'only_one_table_allowed' };
      const detail = tableProblem(b, `${at}/${i}`, tables.chars);
      if (detail) return { error: 'invalid_blocks', detail };
    }
  }
  return undefined;
}

/** Why Slack would refuse a chat.postMessage or chat.update with these parameters, if it would. */
export function messageProblem(p: Record<string, unknown>): MessageProblem | undefined {
  const text = typeof p.text === 'string' ? p.text : '';
  const lists: Array<[unknown, string]> = [];
  if (p.blocks !== undefined) lists.push([p.blocks, '/blocks']);
  if (p.attachments !== undefined) {
    if (!Array.isArray(p.attachments)) return { error: 'invalid_attachments' };
    for (const [i, a] of (p.attachments as Array<{ blocks?: unknown }>).entries())
      if (a.blocks !== undefined) lists.push([a.blocks, `/attachments/${i}/blocks`]);
  }
  if (!text && lists.length === 0 && p.attachments === undefined) return { error: 'no_text' };
  if (text.length > 40_000) return { error: 'msg_too_long' };
  const tables = { n: 0, chars: { n: 0 } };
  for (const [l, at] of lists) {
    const problem = blockProblem(l, at, tables);
    if (problem) return problem;
  }
  if (tables.chars.n > TABLE_CELL_CHARS)
    return { error: 'invalid_blocks', detail: `table cells hold more than ${TABLE_CELL_CHARS} characters` };
  const aggregate = lists.reduce<number>((n, [l]) => n + JSON.stringify(l).length, 0);
  if (aggregate > 13_000) return { error: 'msg_blocks_too_long' };
  return undefined;
}

/** The message checks chat.postMessage and chat.update share; exported so render tests apply the same rules. */
export function messageError(p: Record<string, unknown>): string | undefined {
  return messageProblem(p)?.error;
}

/** Slack's refusal as it answers it: the error, and its detail in response_metadata.messages. */
function refusal(problem: MessageProblem): Record<string, unknown> {
  return {
    ok: false,
    error: problem.error,
    ...(problem.detail ? { response_metadata: { messages: [`[ERROR] ${problem.detail}`] } } : {}),
  };
}

/** Everything Slack shows (every message with its earlier versions, every shared file), to find text in. */
export function shownText(slack: SlackStandin): string {
  const out: string[] = [];
  for (const list of slack.messages.values())
    for (const m of list) out.push(JSON.stringify([m.text, m.blocks, m.attachments, m.edits]));
  for (const f of slack.files) if (f.completed) out.push(f.content ?? '');
  return out.join('\n');
}

export async function startSlackStandin(opts: StandinOptions = {}): Promise<SlackStandin> {
  const token = opts.token ?? 'xoxb-1111-2222-standinTOKENsecret';
  const channels = new Set(opts.channels ?? ['C0ALERTS']);
  const calls: StandinCall[] = [];
  const messages = new Map<string, StandinMessage[]>();
  const files: StandinFile[] = [];
  const faults: Array<{ method: string; fault: Fault; left: number }> = [];
  // Like Slack's, a ts is the post's epoch time with microseconds, unique in the workspace:
  // history lookups (conversations.history's `oldest`) filter on it.
  let lastUs = 0;
  let fileCounter = 0;
  let base = '';

  const nextTs = () => {
    lastUs = Math.max(Date.now() * 1000, lastUs + 1);
    return `${Math.floor(lastUs / 1e6)}.${String(lastUs % 1e6).padStart(6, '0')}`;
  };
  const find = (channel: string, ts: string) => messages.get(channel)?.find((m) => m.ts === ts);
  const asMessage = (m: StandinMessage) => ({
    type: 'message',
    user: 'U0STANDIN',
    bot_id: 'B0STANDIN',
    team: 'T0STANDIN',
    ts: m.ts,
    text: m.text ?? '',
    ...(m.thread_ts ? { thread_ts: m.thread_ts } : {}),
    ...(m.blocks ? { blocks: m.blocks } : {}),
    ...(m.attachments ? { attachments: m.attachments } : {}),
  });

  const takeFault = (method: string): Fault | undefined => {
    const i = faults.findIndex((f) => f.method === method || f.method === '*');
    if (i === -1) return undefined;
    const f = faults[i] as { fault: Fault; left: number };
    f.left -= 1;
    if (f.left <= 0) faults.splice(i, 1);
    return f.fault;
  };

  function handleApi(method: string, p: Record<string, unknown>): Record<string, unknown> {
    const str = (k: string) => (typeof p[k] === 'string' ? (p[k] as string) : undefined);
    switch (method) {
      case 'auth.test':
        return {
          ok: true,
          url: 'https://standin.slack.com/',
          team: 'Stand-in',
          user: 'agent',
          team_id: 'T0STANDIN',
          user_id: 'U0STANDIN',
          bot_id: 'B0STANDIN',
        };
      case 'chat.postMessage': {
        const channel = str('channel');
        if (!channel || !channels.has(channel)) return { ok: false, error: 'channel_not_found' };
        const problem = messageProblem(p);
        if (problem) return refusal(problem);
        const m: StandinMessage = { channel, ts: nextTs(), params: p, edits: [] };
        const threadTs = str('thread_ts');
        if (threadTs) m.thread_ts = threadTs;
        if (typeof p.text === 'string') m.text = p.text;
        if (Array.isArray(p.blocks)) m.blocks = p.blocks;
        if (Array.isArray(p.attachments)) m.attachments = p.attachments;
        if (p.reply_broadcast === true || p.reply_broadcast === 'true') m.reply_broadcast = true;
        if (p.metadata !== undefined) {
          const md = p.metadata as { event_type?: unknown; event_payload?: unknown };
          if (typeof md !== 'object' || md === null || typeof md.event_type !== 'string')
            return { ok: false, error: 'invalid_metadata_format' };
          m.metadata = { event_type: md.event_type, event_payload: md.event_payload ?? {} };
        }
        const list = messages.get(channel) ?? [];
        list.push(m);
        messages.set(channel, list);
        return { ok: true, channel, ts: m.ts, message: asMessage(m) };
      }
      case 'conversations.history': {
        // Top-level messages only, newest first, from `oldest` (exclusive), like Slack's.
        const channel = str('channel');
        if (!channel || !channels.has(channel)) return { ok: false, error: 'channel_not_found' };
        const oldest = Number(str('oldest') ?? '0');
        const limit = Math.min(Number(str('limit') ?? '100') || 100, 999);
        const withMeta = p.include_all_metadata === true || p.include_all_metadata === 'true';
        const list = (messages.get(channel) ?? [])
          .filter((m) => !m.thread_ts && Number(m.ts) > oldest)
          .reverse();
        return {
          ok: true,
          messages: list
            .slice(0, limit)
            .map((m) => ({ ...asMessage(m), ...(withMeta && m.metadata ? { metadata: m.metadata } : {}) })),
          has_more: list.length > limit,
        };
      }
      case 'conversations.replies': {
        // The thread's parent, then its replies, oldest first, from `oldest` (exclusive unless
        // `inclusive`), `limit` per page with a cursor, like Slack's.
        const channel = str('channel');
        if (!channel || !channels.has(channel)) return { ok: false, error: 'channel_not_found' };
        const ts = str('ts');
        const parent = ts ? find(channel, ts) : undefined;
        if (!ts || !parent) return { ok: false, error: 'thread_not_found' };
        const threadTs = parent.thread_ts ?? parent.ts;
        const oldest = Number(str('oldest') ?? '0');
        const inclusive = p.inclusive === true || p.inclusive === 'true';
        const limit = Math.min(Number(str('limit') ?? '1000') || 1000, 1000);
        const start = Number(str('cursor')?.replace(/^next:/, '') ?? '0') || 0;
        const withMeta = p.include_all_metadata === true || p.include_all_metadata === 'true';
        const list = (messages.get(channel) ?? []).filter(
          (m) =>
            (m.ts === threadTs || m.thread_ts === threadTs) &&
            (inclusive ? Number(m.ts) >= oldest : Number(m.ts) > oldest),
        );
        const page = list.slice(start, start + limit);
        const more = start + limit < list.length;
        return {
          ok: true,
          messages: page.map((m) => ({
            ...asMessage(m),
            ...(withMeta && m.metadata ? { metadata: m.metadata } : {}),
          })),
          has_more: more,
          response_metadata: { next_cursor: more ? `next:${start + limit}` : '' },
        };
      }
      case 'chat.update': {
        const channel = str('channel');
        if (!channel || !channels.has(channel)) return { ok: false, error: 'channel_not_found' };
        const m = find(channel, str('ts') ?? '');
        if (!m) return { ok: false, error: 'message_not_found' };
        const problem = messageProblem(p);
        if (problem) return refusal(problem);
        m.edits.push({ text: m.text, blocks: m.blocks, attachments: m.attachments });
        if (typeof p.text === 'string') m.text = p.text;
        if (Array.isArray(p.blocks)) m.blocks = p.blocks;
        if (Array.isArray(p.attachments)) m.attachments = p.attachments;
        return { ok: true, channel, ts: m.ts, text: m.text ?? '', message: asMessage(m) };
      }
      case 'files.getUploadURLExternal': {
        const filename = str('filename');
        const length = Number(p.length);
        if (!filename || !Number.isInteger(length) || length < 0)
          return { ok: false, error: 'invalid_arguments' };
        fileCounter += 1;
        const id = `F0STANDIN${String(fileCounter).padStart(4, '0')}`;
        files.push({ id, filename, length, completed: false });
        return { ok: true, upload_url: `${base}upload/v1/${id}`, file_id: id };
      }
      case 'files.completeUploadExternal': {
        const list = p.files;
        if (!Array.isArray(list) || list.length === 0) return { ok: false, error: 'invalid_arguments' };
        const channel = str('channel_id');
        if (channel !== undefined && !channels.has(channel)) return { ok: false, error: 'channel_not_found' };
        const done: StandinFile[] = [];
        for (const item of list as Array<{ id?: string; title?: string }>) {
          const f = files.find((x) => x.id === item.id);
          if (!f || f.content === undefined) return { ok: false, error: 'file_not_found' };
          done.push(f);
        }
        for (const [i, f] of done.entries()) {
          const title = (list[i] as { title?: string }).title;
          f.completed = true;
          if (title !== undefined) f.title = title;
          if (channel !== undefined) f.channel = channel;
          const threadTs = str('thread_ts');
          if (threadTs !== undefined) f.thread_ts = threadTs;
          const comment = str('initial_comment');
          if (comment !== undefined) f.initial_comment = comment;
        }
        return {
          ok: true,
          files: done.map((f) => ({
            id: f.id,
            name: f.filename,
            title: f.title ?? f.filename,
            size: f.length,
          })),
        };
      }
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', base);
    const body = await readBody(req);
    const ctype = String(req.headers['content-type'] ?? '');
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
      res.writeHead(status, {
        'content-type': typeof payload === 'string' ? 'text/plain' : 'application/json; charset=utf-8',
        ...headers,
      });
      res.end(text);
    };
    const upload = /^\/upload\/v1\/([A-Z0-9]+)$/.exec(url.pathname);
    const api = /^\/api\/([A-Za-z.]+)$/.exec(url.pathname);
    const method = upload ? 'upload' : (api?.[1] ?? url.pathname);
    let params: Record<string, unknown> = {};
    let content: string | undefined;
    let bytes: Buffer | undefined;
    if (upload) {
      if (ctype.startsWith('multipart/form-data')) {
        const form = await new Response(new Uint8Array(body), {
          headers: { 'content-type': ctype },
        }).formData();
        const part = form.get('body') ?? form.get('file') ?? [...form.values()][0];
        bytes =
          typeof part === 'string'
            ? Buffer.from(part)
            : part
              ? Buffer.from(await part.arrayBuffer())
              : Buffer.alloc(0);
        content = bytes.toString('utf8');
      } else {
        bytes = body;
        content = body.toString('utf8');
      }
      params = { file_id: upload[1], length: Buffer.byteLength(content), content };
    } else if (ctype.startsWith('application/json')) {
      try {
        params = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
      } catch {
        return send(200, { ok: false, error: 'invalid_json' });
      }
    } else params = parseForm(body.toString('utf8'));
    calls.push({ method, params, headers: req.headers, at: Date.now() });

    const fault = takeFault(method);
    if (fault && 'delayMs' in fault) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (fault && 'status' in fault) {
      if (fault.status === 429) {
        const after = 'retryAfter' in fault ? String(fault.retryAfter) : '1';
        return send(429, { ok: false, error: 'ratelimited' }, { 'retry-after': after });
      }
      return send(fault.status, `<html><body>${fault.status} stand-in failure</body></html>`);
    }
    if (fault && 'error' in fault) return send(200, { ok: false, error: fault.error });

    if (req.method !== 'POST') return send(405, 'method not allowed');
    const auth =
      /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1] ??
      (params.token as string | undefined);
    if (!auth) return send(200, { ok: false, error: 'not_authed' });
    if (auth !== token) return send(200, { ok: false, error: 'invalid_auth' });
    if (upload) {
      const f = files.find((x) => x.id === upload[1]);
      if (!f) return send(404, 'not found');
      f.content = content ?? '';
      f.bytes = bytes ?? Buffer.alloc(0);
      return send(200, `OK - ${Buffer.byteLength(f.content)}`);
    }
    if (!api) return send(404, 'not found');
    return send(200, handleApi(method, params));
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    serve(req, res).catch((err: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(err));
    });
  };
  const server = opts.tls ? createTlsServer(opts.tls, onRequest) : createServer(onRequest);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}/`;

  return {
    url: `${base}api/`,
    token,
    calls,
    messages,
    files,
    injectFault(method, fault, times = 1) {
      faults.push({ method, fault, left: times });
    },
    replies(channel, threadTs) {
      return (messages.get(channel) ?? []).filter((m) => m.thread_ts === threadTs && m.ts !== threadTs);
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
