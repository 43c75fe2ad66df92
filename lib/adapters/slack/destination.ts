// The Slack destination: posts rendered messages with @slack/web-api and maps its errors to
// ours at this boundary. The client is loaded on first use, since it is heavy on cold start.
import type { LogLevel, Logger as SlackLogger, WebClient } from '@slack/web-api';
import type {
  ChannelBucket,
  Destination,
  MessageRef,
  PostOptions,
  RootView,
  StatusReplyKind,
  SummaryDestination,
  SummaryLine,
  SummaryView,
} from '../../domain/destination.ts';
import type { FileBlock, ImageBlock, Issue } from '../../domain/issue.ts';
import { cjsExports } from '../../platform/cjs.ts';
import { DependencyError, RateLimitedError, UnavailableError } from '../../platform/errors.ts';
import { type Logger, redactSecrets } from '../../platform/logger.ts';
import type { SlackMessage } from './blocks.ts';
import { slackFetch } from './fetch.ts';
import { renderDetails } from './render-details.ts';
import { renderRoot, renderStatusReply, rootOverflowFiles } from './render-root.ts';
import { renderSummary, renderSummaryLines, summaryLinesFile } from './render-summary.ts';
import { escapeMrkdwn, oneLine, safeFilename, truncateEscaped } from './text.ts';

export const DEFAULT_SLACK_API_URL = 'https://slack.com/api/';

export interface SlackDestinationOptions {
  token: string;
  /** Channel ID (C...): chat.update and file shares need the ID, not a name. */
  channel: string;
  /** SLACK_API_URL; Slack's own when unset. */
  apiUrl?: string | undefined;
  timeoutMs?: number | undefined;
  log?: Logger | undefined;
  /**
   * The channel's shared pace: taken before every call that shows something in the channel,
   * and throws RateLimitedError (429 + Retry-After) when the channel is at its rate.
   */
  bucket?: ChannelBucket | undefined;
}

// Slack platform errors a retry can fix; everything else (bad token, unknown channel,
// invalid blocks) needs a person and is not retried by us.
const TRANSIENT = new Set([
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
  'ratelimited',
  'team_added_to_org',
]);

/** Files per files.completeUploadExternal call: Slack shares at most 10 files in one message. */
const FILES_PER_SHARE = 10;

interface SlackErrorShape {
  code?: unknown;
  retryAfter?: unknown;
  statusCode?: unknown;
  data?: { error?: unknown };
  message?: unknown;
}

/** Maps an error from @slack/web-api to ours; messages never carry the token. */
export function mapSlackError(err: unknown, method: string): Error {
  const e = (typeof err === 'object' && err !== null ? err : {}) as SlackErrorShape;
  // The codes are @slack/web-api's ErrorCode values; matching on them works even before the
  // lazily loaded module is in scope.
  switch (e.code) {
    case 'slack_webapi_rate_limited_error': {
      const after = typeof e.retryAfter === 'number' ? e.retryAfter : 1;
      return new RateLimitedError(`slack ${method}: rate limited, retry after ${after}s`, {
        cause: err,
        retryAfter: after,
      });
    }
    case 'slack_webapi_http_error': {
      const status = typeof e.statusCode === 'number' ? e.statusCode : 0;
      if (status >= 500 || status === 408) {
        return new UnavailableError(`slack ${method}: HTTP ${status}`, { cause: err, maybeApplied: true });
      }
      return new DependencyError(`slack ${method}: HTTP ${status}`, { cause: err });
    }
    case 'slack_webapi_request_error':
      return new UnavailableError(`slack ${method}: request failed (network or timeout)`, {
        cause: err,
        maybeApplied: true,
      });
    case 'slack_webapi_platform_error': {
      const code = redactSecrets(String(e.data?.error ?? 'unknown_error')).slice(0, 100);
      if (TRANSIENT.has(code)) return new UnavailableError(`slack ${method}: ${code}`, { cause: err });
      return new DependencyError(`slack ${method}: ${code}`, { cause: err });
    }
    default: {
      const text = redactSecrets(String(e.message ?? err)).slice(0, 200);
      return new DependencyError(`slack ${method}: ${text}`, { cause: err });
    }
  }
}

type WebApiModule = typeof import('@slack/web-api');
let webApi: Promise<WebApiModule> | undefined;

/** The Slack client, imported once (also by the code cache's training run: functions/dispatch-slack). */
export function loadWebApi(): Promise<WebApiModule> {
  webApi ??= import('@slack/web-api').then(cjsExports).catch((err: unknown) => {
    webApi = undefined;
    throw new DependencyError('slack: cannot load @slack/web-api', { cause: err });
  });
  return webApi;
}

/** Routes the client's own logging to ours at warn and above, with secrets stripped. */
function quietLogger(log: Logger | undefined): SlackLogger {
  let level = 'warn' as LogLevel;
  const text = (msg: unknown[]) => redactSecrets(msg.map(String).join(' '));
  return {
    debug: () => {},
    info: () => {},
    warn: (...msg: unknown[]) => log?.warn({ component: 'slack-web-api' }, text(msg)),
    error: (...msg: unknown[]) => log?.error({ component: 'slack-web-api' }, text(msg)),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => {},
  };
}

/** Slack message metadata on every root: which alert it is, for findRoot. */
const ROOT_EVENT_TYPE = 'kubeincident_issue';
/** And on every reply a thread step posts: which step of which alert's thread, for findReply. */
const STEP_EVENT_TYPE = 'kubeincident_step';
interface MessageMetadata {
  event_type: string;
  event_payload: { fingerprint: string; issue_id: string } | { fingerprint: string; step: string };
}

/** Pages of a thread findReply reads at most (200 messages each): a thread is a handful. */
const MAX_REPLY_PAGES = 5;

export class SlackDestination implements Destination, SummaryDestination {
  readonly id: string;
  readonly channel: string;
  readonly #token: string;
  readonly #apiUrl: string;
  readonly #timeoutMs: number;
  readonly #log: Logger | undefined;
  readonly #bucket: ChannelBucket | undefined;
  readonly pace: { bucket: ChannelBucket; channel: string } | undefined;
  #client: Promise<WebClient> | undefined;

  constructor(opts: SlackDestinationOptions) {
    this.channel = opts.channel;
    this.id = `slack:${opts.channel}`;
    this.#token = opts.token;
    this.#apiUrl = opts.apiUrl || DEFAULT_SLACK_API_URL;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
    this.#log = opts.log;
    this.#bucket = opts.bucket;
    this.pace = opts.bucket ? { bucket: opts.bucket, channel: opts.channel } : undefined;
  }

  #getClient(): Promise<WebClient> {
    this.#client ??= loadWebApi().then(
      (m) =>
        new m.WebClient(this.#token, {
          slackApiUrl: this.#apiUrl,
          // Retries belong to the broker (with backoff and a dead-letter sink), not to a
          // client that would hold the request open for up to 30 minutes.
          retryConfig: { retries: 0 },
          rejectRateLimitedCalls: true,
          timeout: this.#timeoutMs,
          logger: quietLogger(this.#log),
          // node:https rather than undici's global fetch (lib/adapters/slack/fetch.ts says why).
          fetch: slackFetch,
        }),
    );
    return this.#client;
  }

  async #call<T>(
    method: string,
    fn: (client: WebClient) => Promise<T>,
    channel = this.channel,
    tokenTaken = false,
  ): Promise<T> {
    const client = await this.#getClient();
    if (!tokenTaken) await this.#bucket?.take(channel);
    try {
      return await fn(client);
    } catch (err) {
      throw mapSlackError(err, method);
    }
  }

  async #post(
    message: SlackMessage,
    threadTs?: string,
    opts?: PostOptions,
    metadata?: MessageMetadata,
  ): Promise<MessageRef> {
    const res = await this.#call(
      'chat.postMessage',
      (c) =>
        c.chat.postMessage({
          channel: this.channel,
          text: message.text,
          ...(message.blocks ? { blocks: message.blocks } : {}),
          ...(message.attachments ? { attachments: message.attachments } : {}),
          ...(metadata ? { metadata } : {}),
          ...(threadTs ? { thread_ts: threadTs } : {}),
          // Previews of alert links (Grafana, Alertmanager) would bury the alert under cards.
          unfurl_links: false,
          unfurl_media: false,
        } as Parameters<WebClient['chat']['postMessage']>[0]),
      this.channel,
      opts?.tokenTaken,
    );
    if (typeof res.ts !== 'string') throw new DependencyError('slack chat.postMessage: answer without ts');
    return { channel: typeof res.channel === 'string' ? res.channel : this.channel, ts: res.ts };
  }

  postRoot(view: RootView, opts?: PostOptions): Promise<MessageRef> {
    const { text, attachments } = renderRoot(view);
    // Invisible to people; lets a retry whose first answer was lost find this root (findRoot).
    const metadata: MessageMetadata = {
      event_type: ROOT_EVENT_TYPE,
      event_payload: { fingerprint: view.issue.fingerprint, issue_id: view.issue.id },
    };
    return this.#post({ text, attachments }, undefined, opts, metadata);
  }

  async findRoot(fingerprint: string, since: number): Promise<MessageRef | undefined> {
    // Reading history is paced by Slack per method (Tier 3), not by the channel's post rate.
    const client = await this.#getClient();
    let res: Awaited<ReturnType<WebClient['conversations']['history']>>;
    try {
      res = await client.conversations.history({
        channel: this.channel,
        oldest: since.toFixed(6),
        limit: 200,
        include_all_metadata: true,
      });
    } catch (err) {
      throw mapSlackError(err, 'conversations.history');
    }
    for (const m of res.messages ?? []) {
      const md = m.metadata as { event_type?: string; event_payload?: Record<string, unknown> } | undefined;
      if (
        m.ts &&
        !m.thread_ts &&
        md?.event_type === ROOT_EVENT_TYPE &&
        md.event_payload?.fingerprint === fingerprint
      )
        return { channel: this.channel, ts: m.ts };
    }
    return undefined;
  }

  async findReply(ref: MessageRef, fingerprint: string, step: string, since: number): Promise<boolean> {
    // Like findRoot: Tier 3, paced by Slack per method, not by the channel's post rate.
    const client = await this.#getClient();
    let cursor: string | undefined;
    for (let page = 0; page < MAX_REPLY_PAGES; page++) {
      let res: Awaited<ReturnType<WebClient['conversations']['replies']>>;
      try {
        res = await client.conversations.replies({
          channel: ref.channel,
          ts: ref.threadTs ?? ref.ts,
          oldest: since.toFixed(6),
          limit: 200,
          include_all_metadata: true,
          ...(cursor ? { cursor } : {}),
        });
      } catch (err) {
        throw mapSlackError(err, 'conversations.replies');
      }
      for (const m of res.messages ?? []) {
        const md = m.metadata as { event_type?: string; event_payload?: Record<string, unknown> } | undefined;
        if (
          md?.event_type === STEP_EVENT_TYPE &&
          md.event_payload?.fingerprint === fingerprint &&
          md.event_payload?.step === step
        )
          return true;
      }
      cursor = res.response_metadata?.next_cursor || undefined;
      if (!res.has_more || !cursor) return false;
    }
    return false;
  }

  /** Metadata naming the thread step a reply is, when the dispatcher gave one. */
  #stepMetadata(fingerprint: string, opts: PostOptions | undefined): MessageMetadata | undefined {
    return opts?.step
      ? { event_type: STEP_EVENT_TYPE, event_payload: { fingerprint, step: opts.step } }
      : undefined;
  }

  async postLinked(thread: MessageRef, view: RootView, opts?: PostOptions): Promise<MessageRef> {
    const { text, attachments } = renderRoot({ ...view, linked: true });
    const ref = await this.#post({ text, attachments }, thread.ts, opts);
    return { ...ref, threadTs: thread.ts };
  }

  /** Edits a message in place (a root, a linked reply or a storm summary). */
  async #update(ref: MessageRef, message: SlackMessage, opts?: PostOptions): Promise<void> {
    const { text, attachments } = message;
    await this.#call(
      'chat.update',
      (c) =>
        c.chat.update({ channel: ref.channel, ts: ref.ts, text, attachments } as Parameters<
          WebClient['chat']['update']
        >[0]),
      ref.channel,
      opts?.tokenTaken,
    );
  }

  async updateRoot(ref: MessageRef, view: RootView, opts?: PostOptions): Promise<void> {
    await this.#update(ref, renderRoot(view), opts);
  }

  async postDetails(ref: MessageRef, issue: Issue, opts?: PostOptions): Promise<void> {
    if (issue.enrichments.length === 0) return;
    const { text, attachments } = renderDetails(issue);
    await this.#post(
      { text, attachments },
      ref.threadTs ?? ref.ts,
      opts,
      this.#stepMetadata(issue.fingerprint, opts),
    );
  }

  uploadCalls(issue: Issue): number {
    return Math.ceil(filesToUpload(issue).length / FILES_PER_SHARE);
  }

  async uploadFiles(ref: MessageRef, issue: Issue, opts?: PostOptions): Promise<void> {
    const files = filesToUpload(issue);
    for (let i = 0; i < files.length; i += FILES_PER_SHARE) {
      const batch = files.slice(i, i + FILES_PER_SHARE);
      await this.#call(
        'files.uploadV2',
        (c) =>
          c.filesUploadV2({
            channel_id: ref.channel,
            thread_ts: ref.threadTs ?? ref.ts,
            file_uploads: batch.map((f) =>
              f.type === 'image'
                ? {
                    file: Buffer.from(f.data, 'base64'),
                    filename: safeFilename(f.filename),
                    title: escapeMrkdwn(oneLine(f.title ?? f.filename)),
                    alt_text: f.alt.slice(0, 1000),
                  }
                : { content: f.content, filename: safeFilename(f.filename), title: fileTitle(f) },
            ),
          }),
        ref.channel,
        i === 0 && opts?.tokenTaken,
      );
    }
  }

  async postSummary(view: SummaryView, opts?: PostOptions): Promise<MessageRef> {
    return this.#post(renderSummary(view), undefined, opts);
  }

  async updateSummary(ref: MessageRef, view: SummaryView, opts?: PostOptions): Promise<void> {
    await this.#update(ref, renderSummary(view), opts);
  }

  async postSummaryLines(
    ref: MessageRef,
    view: SummaryView,
    lines: SummaryLine[],
    asFile: boolean,
    opts?: PostOptions,
  ): Promise<void> {
    if (lines.length === 0) return;
    if (!asFile) {
      await this.#post(renderSummaryLines(lines, view), ref.ts, opts);
      return;
    }
    const f = summaryLinesFile(lines, view);
    await this.#call(
      'files.uploadV2',
      (c) =>
        c.filesUploadV2({
          channel_id: ref.channel,
          thread_ts: ref.ts,
          file_uploads: [{ content: f.content, filename: f.filename, title: escapeMrkdwn(f.title) }],
        }),
      ref.channel,
      opts?.tokenTaken,
    );
  }

  async postStatusReply(
    ref: MessageRef,
    view: RootView,
    kind: StatusReplyKind,
    opts?: PostOptions,
  ): Promise<void> {
    await this.#post(
      renderStatusReply(view, kind),
      ref.threadTs ?? ref.ts,
      opts,
      this.#stepMetadata(view.issue.fingerprint, opts),
    );
  }
}

/** A file's title as Slack shows it (escaped, cut, marked when the source cut it). */
export function fileTitle(f: FileBlock): string {
  const title = escapeMrkdwn(oneLine(f.title ?? f.filename));
  return truncateEscaped(title, 240) + (f.truncated ? ' (truncated)' : '');
}

/**
 * The issue's own files (logs) and pictures (graphs) first, then whatever the renderers cut, in
 * a stable order.
 */
export function filesToUpload(issue: Issue): Array<FileBlock | ImageBlock> {
  const own = issue.enrichments.flatMap((e) =>
    e.blocks.filter((b): b is FileBlock | ImageBlock => b.type === 'file' || b.type === 'image'),
  );
  const cut = [
    ...rootOverflowFiles(issue),
    ...(issue.enrichments.length ? renderDetails(issue).overflowFiles : []),
  ];
  return [...own, ...cut].filter((f) => (f.type === 'image' ? f.data.length : f.content.length) > 0);
}
