// The DOM of one message: a user message (plain text), or an assistant message built
// from saved parts or from a run's events as they arrive; each with its toolbar
// (actions.js) once it is saved.
//
// Every text field is set with textContent or text nodes. The single exception is the
// server-rendered `html` of assistant text parts (see `_appendHtml`).
//
// A reply being streamed (`announce`) has its rendered text (each text part's `.md`) as a
// polite live region until it ends: finished blocks are announced as they come, not every
// fragment of the tail. A saved reply, or a history that opens, is never a live region.

import { toolbar } from './actions.js';
import { approvalBox } from './approval.js';
import * as api from './api.js';
import { attachmentList } from './attachments.js';
import { decorateCode } from './codeblocks.js';
import { h, icon } from './dom.js';
import { StreamTail } from './tail.js';
import { reported, usageText } from './usage.js';

/** @typedef {import('./actions.js').MessageActions} MessageActions */
/** @typedef {import('./api.js').Message} Message */
/** @typedef {import('./api.js').Part} Part */
/** @typedef {import('./api.js').Status} Status */
/** @typedef {import('./api.js').Done} Done */

/** @type {Record<string, string>} */
const STATUS_LABELS = { stopped: 'Stopped', interrupted: 'Interrupted', awaiting_approval: 'Waiting for your approval' };

/**
 * A saved user message, shown as plain text, with its toolbar.
 * @param {Message} message
 * @param {MessageActions} actions
 * @returns {HTMLElement}
 */
export function userMessage(message, actions) {
  const files = message.parts.filter((p) => p.type === 'attachment');
  const element = _userArticle(message.text ?? '', message.status, message.id, files);
  element.append(toolbar(message, element, actions));
  return element;
}

/**
 * The copy of a prompt shown before the server has saved it (status "pending"): no
 * toolbar, as there is no message to act on yet.
 * @param {string} text
 * @param {import('./api.js').UploadedFile[]} [files]  the files it sends
 * @returns {HTMLElement}
 */
export function pendingMessage(text, files = []) {
  /** @type {import('./api.js').AttachmentPart[]} */
  const parts = files.map((f) => ({ type: 'attachment', id: f.id, name: f.name, media_type: f.media_type, size: f.size, sent_as: 'file' }));
  return _userArticle(text, 'pending', undefined, parts);
}

/**
 * @param {string} text
 * @param {Status | 'pending'} status
 * @param {string} [id]
 * @param {import('./api.js').Part[]} [files]  its attachment parts
 * @returns {HTMLElement}
 */
function _userArticle(text, status, id, files = []) {
  const article = h(
    'article',
    { class: 'msg msg--user', 'aria-label': 'You', 'data-role': 'user', 'data-status': status, 'data-id': id },
    h('div', { class: 'msg__text' }, text),
  );
  const list = attachmentList(files.flatMap((p) => (p.type === 'attachment' ? [p] : [])));
  if (list) article.append(list);
  return article;
}

/**
 * A button for the error box of a reply or a notice.
 * @param {string} label  "Retry" (do the same again) or "Regenerate" (a new version)
 * @param {string} className
 * @param {() => void} onClick
 * @returns {HTMLButtonElement}
 */
function _errorButton(label, className, onClick) {
  const button = h('button', { type: 'button', class: `btn btn--small ${className}` }, icon('retry'), label);
  button.addEventListener('click', onClick);
  return button;
}

/**
 * An error line in the conversation that belongs to no message (the server refused a
 * prompt, the connection broke), with an optional Retry.
 * @param {string} text
 * @param {(() => void) | null} onRetry
 * @returns {HTMLElement}
 */
export function notice(text, onRetry) {
  const box = h('div', { class: 'notice', 'data-testid': 'notice' }, h('p', { role: 'alert' }, text));
  if (onRetry) box.append(_errorButton('Retry', 'retry', onRetry));
  return box;
}

/**
 * The string index reached by stepping `count` code points forward from `from`.
 * The server counts characters as Python does (code points) while JavaScript strings
 * index UTF-16 units, so an emoji is 1 for the server and 2 here.
 * @param {string} text
 * @param {number} from
 * @param {number} count
 * @returns {number}
 */
function _advance(text, from, count) {
  let i = from;
  for (; count > 0 && i < text.length; count--) {
    const c = text.charCodeAt(i);
    const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < text.length;
    i += pair && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
  }
  return i;
}

/**
 * @typedef {object} TextPart
 * @property {'text'} kind
 * @property {HTMLElement} md      the rendered blocks
 * @property {StreamTail} tail     the not-yet-rendered rest, shown as it streams
 * @property {string} text         the part's whole markdown source so far
 * @property {string} pending      its end not rendered yet (what the tail shows)
 * @property {number} points       characters (code points) rendered, as the server counts
 */

/** How long a finished reply stays a live region: its last block and `done` often come
 * in one read, and a region that stops being live at once would not announce it (ms). */
const QUIET_AFTER_MS = 1000;

/**
 * @typedef {object} ThinkingPart
 * @property {'thinking'} kind
 * @property {HTMLElement} body
 */

export class AssistantMessage {
  /**
   * @param {Message} message  its parts are not rendered: see `fromMessage`
   * @param {MessageActions} actions
   */
  constructor(message, actions) {
    this._actions = actions;
    this.parts = h('div', { class: 'msg__parts' });
    this._status = h('span', { class: 'msg__status' });
    // Which model wrote the reply: conversations can change model between replies.
    this._model = h('span', { class: 'msg__model', 'data-testid': 'reply-model' });
    this._usage = h('span', { class: 'msg__usage', 'data-testid': 'reply-usage' });
    this._meta = h('div', { class: 'msg__meta' }, this._status, this._model, this._usage);
    /** @type {HTMLElement | null} */
    this._error = null;
    this.element = h(
      'article',
      { class: 'msg msg--assistant', 'aria-label': 'Assistant', 'data-role': 'assistant', 'data-id': message.id },
      this.parts,
      this._meta,
    );
    this._conversationId = message.conversation_id;
    this._meta.append(toolbar(message, this.element, actions, () => this._source()));
    /** @type {TextPart | ThinkingPart | null} the part that deltas extend */
    this._current = null;
    /** @type {TextPart[]} */
    this._texts = [];
    /** Built from a run's events as they come (not from a saved message). */
    this._streamed = message.status === 'generating';
    /** Its text parts are live regions, until it ends (see `announce`). */
    this._live = false;
    /**
     * The reply's markdown, once known here: the list sends a reply's HTML only, and a
     * streamed reply's text is complete once it has ended. null: ask the server.
     * @type {string | null}
     */
    this._markdown = null;
    this.setStatus(message.status);
    this.setModel(message.model);
  }

  /**
   * A saved message, fully rendered. A part of an unknown shape is skipped rather
   * than breaking the whole conversation.
   * @param {Message} message
   * @param {MessageActions} actions
   * @returns {AssistantMessage}
   */
  static fromMessage(message, actions) {
    const view = new AssistantMessage(message, actions);
    // Saved, even if still generating (a partial copy): not built from events.
    view._streamed = false;
    for (const part of message.parts ?? []) {
      try {
        view._renderPart(part);
      } catch (error) {
        console.warn('parley: could not render a part', part, error);
      }
    }
    if (!view.parts.childElementCount && message.text) view.text(message.text);
    view._current = null;
    view.finish(message);
    view._markdown = message.text ?? null;
    return view;
  }

  /** @param {Part} part */
  _renderPart(part) {
    switch (part.type) {
      case 'text':
        // In the list a text part carries its rendered HTML only (its markdown source is
        // at GET /api/conversations/{id}/messages/{message_id}), or nothing for user text.
        if (part.html) this.block(part.html, 0);
        this._current = null;
        break;
      case 'thinking':
        this.thinking(part.text);
        this._current = null;
        break;
      case 'tool_call':
        this.toolCall(part.tool_name, part.args);
        if (part.approval) this._approval(part.tool_call_id, part.tool_name, part.args, part.approval);
        break;
      case 'tool_result':
        this.toolResult(part.tool_name, part.content);
        break;
    }
  }

  /** Announce the reply's text as it is rendered, politely, until the reply ends. */
  announce() {
    this._live = true;
    for (const part of this._texts) _setLive(part.md, true);
  }

  /** @returns {TextPart} the current text part, started if the last part is not text */
  _textPart() {
    if (this._current?.kind === 'text') return this._current;
    const md = h('div', { class: 'md' });
    if (this._live) _setLive(md, true);
    const tail = h('div', { class: 'md-tail' });
    this.parts.append(h('div', { class: 'part part--text' }, md, tail));
    /** @type {TextPart} */
    const part = { kind: 'text', md, tail: new StreamTail(tail), text: '', pending: '', points: 0 };
    this._current = part;
    this._texts.push(part);
    return part;
  }

  /** @param {string} delta  markdown source, shown in the tail until its block is rendered */
  text(delta) {
    const part = this._textPart();
    part.text += delta;
    part.pending += delta;
    part.tail.append(delta);
  }

  /**
   * Finished blocks of the current text part: `html` is appended to the rendered part,
   * and the first `n` characters of its text are now covered by rendered HTML.
   * @param {string} html
   * @param {number} n
   */
  block(html, n) {
    const part = this._textPart();
    decorateCode(_appendHtml(part.md, html));
    if (n <= part.points) return;
    // Only the unrendered end is stepped through and sliced: the cost of a block is the
    // length of the open block, never of the whole text.
    part.pending = part.pending.slice(_advance(part.pending, 0, n - part.points));
    part.points = n;
    part.tail.reset(part.pending);
  }

  /** @param {string} delta */
  thinking(delta) {
    if (this._current?.kind !== 'thinking') {
      const body = h('div', { class: 'thinking__text' });
      this.parts.append(h('details', { class: 'part part--thinking' }, h('summary', {}, 'Thinking'), body));
      this._current = { kind: 'thinking', body };
    }
    this._current.body.append(delta);
  }

  /**
   * @param {string} toolName
   * @param {string} args  JSON text, pretty-printed when it parses
   */
  toolCall(toolName, args) {
    let shown = args;
    try {
      shown = JSON.stringify(JSON.parse(args), null, 2);
    } catch {
      // not JSON: show it as it came
    }
    this._toolCard('call', 'Tool call', toolName, shown);
  }

  /**
   * The approval of the tool call just shown (approval.js): answerable while the reply waits.
   * @param {string} toolCallId
   * @param {string} toolName
   * @param {string} args
   * @param {import('./api.js').Approval} approval
   */
  _approval(toolCallId, toolName, args, approval) {
    const card = this.parts.lastElementChild;
    const waiting = this.element.getAttribute('data-status') === 'awaiting_approval';
    const answer = waiting ? (/** @type {import('./api.js').Decision} */ decision) => this._actions.answer(this.element, [decision]) : null;
    const box = approvalBox(toolCallId, toolName, args, approval, answer);
    if (card instanceof HTMLDetailsElement) {
      card.append(box);
      // A call waiting for an answer is shown open: its arguments are what is approved.
      if (approval.state === 'pending') card.open = true;
    } else {
      this.parts.append(box);
    }
  }

  /**
   * Parts a resumed reply already holds (its tool calls with their decisions).
   * @param {Part[]} parts
   */
  renderParts(parts) {
    for (const part of parts) this._renderPart(part);
    this._current = null;
  }

  /**
   * @param {string} toolName
   * @param {string} content
   */
  toolResult(toolName, content) {
    this._toolCard('result', 'Tool result', toolName, content);
  }

  /**
   * @param {string} kind
   * @param {string} label
   * @param {string} toolName
   * @param {string} body
   */
  _toolCard(kind, label, toolName, body) {
    const summary = h('summary', {}, h('span', { class: 'tool__label' }, label), ' ', h('code', { class: 'tool__name' }, toolName));
    this.parts.append(
      h('details', { class: `part part--tool part--tool-${kind}` }, summary, h('pre', { class: 'tool__body' }, body)),
    );
    this._current = null;
  }

  /**
   * Show an error in the message. Showing it again replaces the text.
   * A failed reply offers Regenerate (a new version of the reply: the prompt is never
   * sent again as a new turn, which would leave it twice in what the model receives);
   * with `onRetry` (the connection was lost, the run may still be going) the button is
   * Retry and does that instead.
   * @param {string} detail
   * @param {() => void} [onRetry]
   */
  fail(detail, onRetry) {
    this._quiet();
    if (!this._error) {
      const button = onRetry
        ? _errorButton('Retry', 'retry', onRetry)
        : _errorButton('Regenerate', 'msg__action', () => this._actions.regenerate(this.element));
      // One Regenerate per reply: the toolbar's gives way to the one beside the error.
      const inToolbar = this._meta.querySelector('.msg__regenerate');
      if (!onRetry && inToolbar instanceof HTMLElement) inToolbar.hidden = true;
      this._error = h('p', { role: 'alert' });
      this.element.insertBefore(h('div', { class: 'msg__error' }, this._error, button), this._meta);
    }
    this._error.textContent = detail;
  }

  /** @param {Status} status */
  setStatus(status) {
    this.element.setAttribute('data-status', status);
    this._status.textContent = STATUS_LABELS[status] ?? '';
  }

  /** @param {string | null | undefined} model  the model that writes (or wrote) this reply */
  setModel(model) {
    if (!model) return;
    this._model.replaceChildren(h('span', { class: 'visually-hidden' }, 'Model: '), model);
  }

  /** @returns {string} the status shown */
  get status() {
    return this.element.getAttribute('data-status') ?? '';
  }

  /**
   * The run ended (a `done` event or a saved message).
   * @param {Pick<Done, 'id' | 'status' | 'error' | 'usage' | 'model'>} done
   */
  finish(done) {
    this._current = null;
    if (done.id) this.element.setAttribute('data-id', done.id);
    this.setStatus(done.status);
    if (done.status === 'error') this.fail(done.error || 'The reply failed.');
    this.setModel(done.model);
    // A reply stopped or failed before the provider reported anything has no usage to
    // show: "0 in · 0 out" would read as a count.
    this._usage.textContent = done.usage && reported(done.usage) ? usageText(done.usage) : '';
    // Streamed here from its first event: the text parts are the whole reply (as the
    // server joins them).
    if (this._streamed) this._markdown = this._texts.map((part) => part.text).join('\n\n');
    this._quiet();
  }

  /** The reply has ended: its text stops being a live region, after a moment. */
  _quiet() {
    if (!this._live) return;
    this._live = false;
    const regions = this._texts.map((part) => part.md);
    setTimeout(() => {
      for (const md of regions) _setLive(md, false);
    }, QUIET_AFTER_MS);
  }

  /**
   * The reply's markdown source, for Copy: known here, or fetched from the server.
   * @returns {string | Promise<string>}
   */
  _source() {
    if (this._markdown !== null) return this._markdown;
    const id = this.element.getAttribute('data-id') ?? '';
    return _savedMarkdown(this._conversationId, id).then((text) => {
      this._markdown = text;
      return text;
    });
  }
}

/**
 * @param {HTMLElement} md
 * @param {boolean} live
 */
function _setLive(md, live) {
  if (live) {
    md.setAttribute('aria-live', 'polite');
    md.setAttribute('aria-atomic', 'false');
  } else {
    md.removeAttribute('aria-live');
    md.removeAttribute('aria-atomic');
  }
}

/**
 * A saved reply's markdown: `GET …/messages/{id}` sends each text part's source, which
 * the list leaves out.
 * @param {string} conversationId
 * @param {string} id
 * @returns {Promise<string>}
 */
async function _savedMarkdown(conversationId, id) {
  const message = await api.getMessage(conversationId, id);
  return message.text ?? '';
}

/**
 * Append server-rendered HTML; returns the first node added (null if none).
 *
 * Why this is safe: `html` only ever comes from the `html` field of a saved text part or
 * from a `block` event. The server renders it from markdown and sanitizes the result with
 * nh3 (an allow-list HTML sanitizer) after rendering, so it holds no scripts, event
 * handlers or javascript: URLs; the page's Content-Security-Policy is a second line.
 * Nothing typed by a user, and no other field, ever reaches this function.
 * @param {HTMLElement} target
 * @param {string} html
 * @returns {ChildNode | null}
 */
function _appendHtml(target, html) {
  const last = target.lastChild;
  target.insertAdjacentHTML('beforeend', html);
  return last ? last.nextSibling : target.firstChild;
}
