// Where the model's context begins: when older messages no longer fit the model's context
// window, a separator above the first message the next turn sends (the messages list's
// `context_start_id`). One at a time; shown only while that message is in the log (an
// older page that holds it places it when it loads).

import * as api from './api.js';
import { h } from './dom.js';

const TEXT = 'Earlier messages are not sent to the model';

export class ContextMarker {
  /** @param {HTMLElement} log */
  constructor(log) {
    this._log = log;
    /** @type {string | null} the first message sent, null when all of them are */
    this._id = null;
    /** None of the messages is sent: the separator goes below the last one. */
    this._empty = false;
    /** Bumped by every change: a refetch answered after a newer one is dropped. */
    this._serial = 0;
    this.element = h('div', { role: 'separator', 'aria-label': TEXT, class: 'context-start' }, TEXT);
  }

  /**
   * Mark a message as where the context begins (null: the whole branch is sent, unless
   * `empty`: none of it is).
   * @param {string | null | undefined} messageId
   * @param {boolean} [empty]
   */
  set(messageId, empty = false) {
    this._serial++;
    this._id = messageId ?? null;
    this._empty = !this._id && empty;
    this.place();
  }

  /** Forget the mark (the log is emptied or another conversation opened). */
  clear() {
    this.set(null);
  }

  /** Put the separator above the marked message if it is in the log, or take it away. */
  place() {
    if (this._empty) {
      const messages = this._log.querySelectorAll('.msg');
      const last = messages[messages.length - 1];
      if (last) last.after(this.element);
      else this.element.remove();
      return;
    }
    const target = this._id ? this._log.querySelector(`.msg[data-id="${CSS.escape(this._id)}"]`) : null;
    if (!target) this.element.remove();
    else if (target.previousElementSibling !== this.element) target.before(this.element);
  }

  /**
   * Fetch where the context begins now (a reply ended), from the newest page of one message.
   * @param {string} conversationId
   * @param {() => boolean} current  whether the conversation is still the one shown
   */
  async refresh(conversationId, current) {
    const serial = ++this._serial;
    try {
      const page = await api.listMessages(conversationId, { limit: 1 });
      if (serial === this._serial && current()) this.set(page.context_start_id, page.context_empty);
    } catch (error) {
      console.warn('parley: could not fetch where the context begins', error);
    }
  }
}
