// The Block Kit subset the renderers emit, with constructors that take text the caller has
// already escaped (only the renderers know which text is untrusted and which is markup).

export interface TextObject {
  type: 'mrkdwn' | 'plain_text';
  text: string;
}

/** A table cell Slack shows exactly as given: plain text, never parsed for mentions or links. */
export interface RawTextCell {
  type: 'raw_text';
  text: string;
}

/** One column of a table block; null keeps Slack's default (left, not wrapped). */
export type TableColumnSetting = { align?: 'left' | 'center' | 'right'; is_wrapped?: boolean } | null;

export type SlackBlock =
  | { type: 'header'; text: TextObject }
  | { type: 'section'; text: TextObject }
  | { type: 'section'; fields: TextObject[] }
  | { type: 'context'; elements: TextObject[] }
  | { type: 'divider' }
  | { type: 'table'; rows: RawTextCell[][]; column_settings?: TableColumnSetting[] }
  | { type: 'image'; image_url: string; alt_text: string; title?: TextObject };

export interface SlackAttachment {
  /** The bar's color; Slack's neutral grey when absent. */
  color?: string;
  fallback: string;
  /** Slack takes a table block only here, in an attachment's blocks, and one per message. */
  blocks: SlackBlock[];
}

/** A message ready for chat.postMessage / chat.update (channel and thread added by the caller). */
export interface SlackMessage {
  text: string;
  blocks?: SlackBlock[];
  attachments?: SlackAttachment[];
}

// Slack refuses a block whose text is empty (invalid_blocks), and escaping drops control
// characters: text made only of them would lose the whole message. A dash stands in.
const nonEmpty = (text: string) => (text.trim() === '' ? '–' : text);

export const header = (escaped: string): SlackBlock => ({
  type: 'header',
  text: { type: 'plain_text', text: nonEmpty(escaped) },
});
export const section = (mrkdwn: string): SlackBlock => ({
  type: 'section',
  text: { type: 'mrkdwn', text: nonEmpty(mrkdwn) },
});
export const fields = (items: string[]): SlackBlock => ({
  type: 'section',
  fields: items.map((text) => ({ type: 'mrkdwn', text: nonEmpty(text) })),
});
export const context = (mrkdwn: string): SlackBlock => ({
  type: 'context',
  elements: [{ type: 'mrkdwn', text: nonEmpty(mrkdwn) }],
});
export const divider = (): SlackBlock => ({ type: 'divider' });
export const table = (rows: RawTextCell[][], columnSettings?: TableColumnSetting[]): SlackBlock =>
  columnSettings ? { type: 'table', rows, column_settings: columnSettings } : { type: 'table', rows };

/** Size of blocks as sent: what the aggregate budget is measured against. */
export function blocksSize(blocks: readonly SlackBlock[]): number {
  return JSON.stringify(blocks).length;
}
