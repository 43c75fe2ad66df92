// The Block Kit subset the renderers emit, with constructors that take text the caller has
// already escaped (only the renderers know which text is untrusted and which is markup).

export interface TextObject {
  type: 'mrkdwn' | 'plain_text';
  text: string;
}

export type SlackBlock =
  | { type: 'header'; text: TextObject }
  | { type: 'section'; text: TextObject }
  | { type: 'section'; fields: TextObject[] }
  | { type: 'context'; elements: TextObject[] }
  | { type: 'divider' };

export interface SlackAttachment {
  color: string;
  fallback: string;
  blocks: SlackBlock[];
}

/** A message ready for chat.postMessage / chat.update (channel and thread added by the caller). */
export interface SlackMessage {
  text: string;
  blocks?: SlackBlock[];
  attachments?: SlackAttachment[];
}

export const header = (escaped: string): SlackBlock => ({
  type: 'header',
  text: { type: 'plain_text', text: escaped },
});
export const section = (mrkdwn: string): SlackBlock => ({
  type: 'section',
  text: { type: 'mrkdwn', text: mrkdwn },
});
export const fields = (items: string[]): SlackBlock => ({
  type: 'section',
  fields: items.map((text) => ({ type: 'mrkdwn', text })),
});
export const context = (mrkdwn: string): SlackBlock => ({
  type: 'context',
  elements: [{ type: 'mrkdwn', text: mrkdwn }],
});
export const divider = (): SlackBlock => ({ type: 'divider' });

/** Size of blocks as sent: what the aggregate budget is measured against. */
export function blocksSize(blocks: readonly SlackBlock[]): number {
  return JSON.stringify(blocks).length;
}
