// The preview feed: what the terminal destination shows, also sent as the Block Kit Slack would
// get (the same renderers), to the local preview page that `npm start` serves (scripts/preview/).
// Best effort by design: the terminal is the destination of record, so a preview that is down
// costs a log line, never a delivery.
import type { SlackMessage } from './slack/blocks.ts';

/** One change to the preview's channel, in the order the destination made it. */
export type PreviewMessage =
  | { op: 'post'; ts: string; threadTs?: string; message: SlackMessage }
  | { op: 'update'; ts: string; message: SlackMessage }
  | { op: 'file'; ts: string; threadTs: string; filename: string; title: string; content: string };

export interface PreviewSink {
  send(message: PreviewMessage): Promise<void>;
}

export interface PreviewSinkOptions {
  /** PREVIEW_URL: where the preview server takes messages (POST, JSON). */
  url: string;
  /** PREVIEW_TOKEN: its bearer token, so no other local process or web page can post. */
  token?: string | undefined;
  timeoutMs?: number;
  onError: (err: unknown) => void;
}

/** Characters of a file's content sent to the preview (Slack shows a snippet, too). */
const FILE_PREVIEW_CHARS = 64 * 1024;

export function createPreviewSink(opts: PreviewSinkOptions): PreviewSink {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  // Sent one after the other: an edit must never overtake the post it edits.
  let queue: Promise<void> = Promise.resolve();
  const post = async (message: PreviewMessage) => {
    const body =
      message.op === 'file' ? { ...message, content: message.content.slice(0, FILE_PREVIEW_CHARS) } : message;
    try {
      const res = await fetch(opts.url, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(opts.timeoutMs ?? 2000),
      });
      await res.body?.cancel();
      if (!res.ok) throw new Error(`preview answered HTTP ${res.status}`);
    } catch (err) {
      opts.onError(err);
    }
  };
  return {
    send(message) {
      queue = queue.then(() => post(message));
      return queue;
    },
  };
}
