// Atlassian Document Format, the little of it Jira descriptions and comments here use:
// headings, paragraphs (with links), bullet lists and code blocks. Jira refuses a document with
// an empty text node, a mark on code, or an unknown node, so text is never empty here.
export type AdfNode = Record<string, unknown>;

const textNode = (text: string, href?: string): AdfNode =>
  href ? { type: 'text', text, marks: [{ type: 'link', attrs: { href } }] } : { type: 'text', text };

export const heading = (text: string, level = 3): AdfNode => ({
  type: 'heading',
  attrs: { level },
  content: [textNode(text || ' ')],
});

export const paragraph = (...parts: Array<string | { text: string; href: string }>): AdfNode => {
  const content = parts
    .map((p) => (typeof p === 'string' ? textNode(p) : textNode(p.text, p.href)))
    .filter((n) => (n.text as string).length > 0);
  return content.length ? { type: 'paragraph', content } : { type: 'paragraph' };
};

export const bulletList = (items: string[]): AdfNode => ({
  type: 'bulletList',
  content: items.filter(Boolean).map((i) => ({ type: 'listItem', content: [paragraph(i)] })),
});

export const codeBlock = (text: string): AdfNode =>
  text ? { type: 'codeBlock', attrs: {}, content: [textNode(text)] } : { type: 'codeBlock', attrs: {} };

export const doc = (content: AdfNode[]): AdfNode => ({
  type: 'doc',
  version: 1,
  // A bullet list without items is not valid ADF.
  content: content.filter((n) => !(n.type === 'bulletList' && (n.content as unknown[]).length === 0)),
});
