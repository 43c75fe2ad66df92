// Draws the preview feed (/events, Server-Sent Events) as a Slack channel. Every piece of message
// text becomes a DOM text node (never HTML), so alert text cannot inject markup; links keep only
// http(s) URLs. Slack mrkdwn: *bold*, _italic_, ~strike~, `code`, ```pre```, <url|label>, mentions.

const channel = document.getElementById('channel');
const statusEl = document.getElementById('status');
const emptyEl = document.getElementById('empty');
/** ts -> the message element. */
const messages = new Map();

const EMOJI = {
  red_circle: '🔴',
  large_orange_circle: '🟠',
  large_blue_circle: '🔵',
  white_circle: '⚪',
  large_green_circle: '🟢',
  warning: '⚠️',
  paperclip: '📎',
  rotating_light: '🚨',
  white_check_mark: '✅',
  fire: '🔥',
  link: '🔗',
};
const NAMED_COLORS = { good: '#2eb67d', warning: '#daa038', danger: '#a30200' };

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Slack escapes only these three in mrkdwn and plain text. */
function decode(text) {
  return String(text).replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

function withEmoji(text) {
  return decode(text).replace(/:([a-z0-9_+-]+):/g, (m, name) => EMOJI[name] ?? m);
}

function safeUrl(raw) {
  try {
    const u = new URL(decode(raw));
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : undefined;
  } catch {
    return undefined;
  }
}

/** One `<...>` of mrkdwn: a link, a mention or a special command. */
function angle(inner) {
  const bar = inner.indexOf('|');
  const target = bar < 0 ? inner : inner.slice(0, bar);
  const label = bar < 0 ? undefined : inner.slice(bar + 1);
  if (/^[!@#]/.test(target)) {
    const name = label ?? (target.startsWith('!') ? `@${target.slice(1).split('^')[0]}` : target);
    return el('span', 'mention', decode(name));
  }
  const url = safeUrl(target);
  if (!url) return document.createTextNode(decode(`<${inner}>`));
  const a = el('a', '', decode(label ?? target));
  a.href = url;
  a.rel = 'noopener noreferrer';
  a.target = '_blank';
  return a;
}

const INLINE =
  /<([^<>\n]+)>|`([^`\n]+)`|\*([^*\n]+)\*|(?<![A-Za-z0-9_])_([^_\n]+)_(?![A-Za-z0-9_])|~([^~\n]+)~/g;

function inline(parent, text) {
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > last) parent.append(withEmoji(text.slice(last, m.index)));
    if (m[1] !== undefined) parent.append(angle(m[1]));
    else if (m[2] !== undefined) parent.append(el('code', '', decode(m[2])));
    else if (m[3] !== undefined) inline(parent.appendChild(el('b')), m[3]);
    else if (m[4] !== undefined) inline(parent.appendChild(el('i')), m[4]);
    else inline(parent.appendChild(el('s')), m[5]);
    last = m.index + m[0].length;
  }
  if (last < text.length) parent.append(withEmoji(text.slice(last)));
}

function mrkdwn(text, className = 'mrkdwn') {
  const box = el('div', className);
  const parts = String(text).split('```');
  parts.forEach((part, i) => {
    if (i % 2 === 1) box.append(el('pre', '', decode(part.replace(/^\n/, ''))));
    else inline(box, part);
  });
  return box;
}

function textObject(t) {
  if (!t || typeof t.text !== 'string') return el('div');
  return t.type === 'plain_text' ? el('div', 'plain', withEmoji(t.text)) : mrkdwn(t.text);
}

function tableBlock(b) {
  const wrap = el('div', 'block slack-table-wrap');
  const table = wrap.appendChild(el('table', 'slack-table'));
  const settings = Array.isArray(b.column_settings) ? b.column_settings : [];
  for (const row of Array.isArray(b.rows) ? b.rows : []) {
    const tr = table.appendChild(el('tr'));
    (Array.isArray(row) ? row : []).forEach((cell, i) => {
      const td = tr.appendChild(el('td', '', typeof cell?.text === 'string' ? cell.text : ''));
      const s = settings[i];
      if (s?.is_wrapped) td.classList.add('wrapped');
      if (s?.align === 'right' || s?.align === 'center') td.style.textAlign = s.align;
    });
  }
  return wrap;
}

function block(b) {
  switch (b?.type) {
    case 'header':
      return el('div', 'block header', withEmoji(b.text?.text ?? ''));
    case 'section': {
      const box = el('div', 'block section');
      if (b.text) box.append(textObject(b.text));
      if (Array.isArray(b.fields)) {
        const grid = box.appendChild(el('div', 'fields'));
        for (const f of b.fields) grid.append(textObject(f));
      }
      return box;
    }
    case 'context': {
      const box = el('div', 'block context');
      for (const e of Array.isArray(b.elements) ? b.elements : []) box.append(textObject(e));
      return box;
    }
    case 'divider':
      return el('hr', 'block divider');
    case 'table':
      return tableBlock(b);
    case 'image': {
      const box = el('div', 'block image');
      const src = typeof b.image_url === 'string' && /^data:image\/(png|jpeg|gif|webp);/.test(b.image_url);
      if (b.title?.text) box.append(el('div', 'image-title', withEmoji(b.title.text)));
      if (src) {
        const img = box.appendChild(el('img'));
        img.src = b.image_url;
        img.alt = String(b.alt_text ?? '');
      } else box.append(el('div', 'context', `[image: ${String(b.alt_text ?? '')}]`));
      return box;
    }
    default:
      return el('pre', 'block unknown', JSON.stringify(b, null, 2));
  }
}

function attachment(a) {
  const box = el('div', 'attachment');
  const color = NAMED_COLORS[a?.color] ?? a?.color;
  if (typeof color === 'string' && /^#[0-9a-fA-F]{3,8}$/.test(color)) {
    box.style.borderLeftColor = color;
    box.dataset.color = color.toLowerCase();
  }
  for (const b of Array.isArray(a?.blocks) ? a.blocks : []) box.append(block(b));
  if (!a?.blocks?.length && typeof a?.fallback === 'string') box.append(mrkdwn(a.fallback));
  return box;
}

function messageBody(message) {
  const body = el('div', 'body');
  const blocks = Array.isArray(message.blocks) ? message.blocks : [];
  const attachments = Array.isArray(message.attachments) ? message.attachments : [];
  // Slack shows `text` only when there are no blocks (it is the notification fallback then).
  if (blocks.length === 0 && attachments.length === 0)
    body.append(mrkdwn(message.text, 'mrkdwn fallback-text'));
  for (const b of blocks) body.append(block(b));
  for (const a of attachments) body.append(attachment(a));
  return body;
}

function fileBody(m) {
  const body = el('div', 'body');
  const file = body.appendChild(el('div', 'file'));
  file.append(el('div', 'file-title', `📎 ${decode(m.title)}`), el('div', 'file-name', m.filename));
  file.append(el('pre', 'file-content', m.content));
  return body;
}

function timeOf(ts) {
  const d = new Date(Number(String(ts).split('.')[0]) * 1000);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function shell(ts, reply) {
  const m = el('article', `message ${reply ? 'reply' : 'root'}`);
  m.dataset.ts = ts;
  m.append(el('div', 'avatar', 'KI'));
  const meta = m.appendChild(el('div', 'meta'));
  meta.append(
    el('span', 'sender', 'kubeincident'),
    el('span', 'app-badge', 'APP'),
    el('span', 'time', timeOf(ts)),
  );
  return m;
}

function threadOf(root) {
  let thread = root.querySelector(':scope > .thread');
  if (!thread) {
    thread = el('div', 'thread');
    thread.append(el('div', 'thread-label', 'Thread'));
    root.append(thread);
  }
  return thread;
}

function place(m, threadTs) {
  if (!threadTs) return channel.append(m);
  let root = messages.get(threadTs);
  if (!root) {
    // A reply whose root this page never saw (opened late, history trimmed).
    root = shell(threadTs, false);
    root.append(el('div', 'body context', '(earlier message)'));
    messages.set(threadTs, root);
    channel.append(root);
  }
  const thread = threadOf(root);
  thread.append(m);
  m.dataset.threadTs = threadTs;
  const n = thread.querySelectorAll(':scope > .message').length;
  thread.querySelector('.thread-label').textContent = `${n} ${n === 1 ? 'reply' : 'replies'}`;
}

function apply(m) {
  emptyEl?.remove();
  if (m.op === 'update') {
    const target = messages.get(m.ts);
    if (!target) return;
    target.querySelector(':scope > .body')?.replaceWith(messageBody(m.message));
    // The body goes back before the thread, where it was.
    const thread = target.querySelector(':scope > .thread');
    if (thread) target.append(thread);
    if (!target.querySelector(':scope > .meta > .edited-mark'))
      target.querySelector(':scope > .meta').append(el('span', 'edited-mark', '(edited)'));
    target.classList.add('edited');
    flash(target);
    return;
  }
  const node = shell(m.ts, Boolean(m.threadTs));
  node.append(m.op === 'file' ? fileBody(m) : messageBody(m.message));
  messages.set(m.ts, node);
  place(node, m.threadTs);
  flash(node);
}

function flash(node) {
  node.classList.remove('flash');
  void node.offsetWidth;
  node.classList.add('flash');
}

/** Messages drawn so far; also on <body data-received> for whoever waits on the page. */
let received = 0;

function connect() {
  const source = new EventSource('/events');
  let seen = 0;
  source.onopen = () => {
    seen = 0;
    statusEl.dataset.state = 'live';
    statusEl.textContent = 'live';
  };
  source.onerror = () => {
    statusEl.dataset.state = 'down';
    statusEl.textContent = 'reconnecting…';
  };
  source.onmessage = (e) => {
    // On a reconnect the server replays its history: skip what is already drawn.
    seen += 1;
    if (seen <= received) return;
    received = seen;
    document.body.dataset.received = String(received);
    try {
      apply(JSON.parse(e.data));
    } catch (err) {
      console.error('preview: cannot draw a message', err);
    }
  };
}

document.body.dataset.received = '0';
connect();
