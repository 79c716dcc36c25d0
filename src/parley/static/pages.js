// The window of the current branch that the log shows. A conversation can hold thousands
// of messages, so the log holds pages of them: "Load earlier messages" above (older
// pages, `before=next_cursor`) and, when the window stops short of the newest message
// (after opening a search hit in the middle), "Load newer messages" below
// (`after=newer_cursor`). Scrolling to either end loads the next page as well; the
// buttons are there for the keyboard and for a page too short to scroll.

import * as api from './api.js';
import { describeError, h } from './dom.js';
import { notice } from './messages.js';

/** @typedef {import('./api.js').Message} Message */
/** @typedef {import('./api.js').MessagePage} MessagePage */
/** @typedef {import('./api.js').MessageQuery} MessageQuery */

/**
 * @typedef {object} PagesHooks
 * @property {(message: Message) => HTMLElement} render
 * @property {(messages: Message[]) => void} newest  paging down reached the newest message
 * @property {(page: MessagePage) => void} loaded  a page was added to the log
 */

/** How close to an end (px) scrolling must come to load the next page. */
const EDGE_PX = 120;

/** Messages per page when paging from the middle of a branch. */
export const PAGE_AROUND = 50;

export class Pages {
  /**
   * @param {HTMLElement} log
   * @param {PagesHooks} hooks
   */
  constructor(log, hooks) {
    this._log = log;
    this._hooks = hooks;
    /** @type {string | null} the open conversation, while a window of it is shown */
    this._id = null;
    /** @type {string | null} */
    this._older = null;
    /** @type {string | null} */
    this._newer = null;
    /** Bumped by every reset: a page loaded for an older window is dropped. */
    this._serial = 0;
    this._earlier = this._button('Load earlier messages', 'earlier', () => void this.loadEarlier());
    this._later = this._button('Load newer messages', 'later', () => void this.loadNewer());
  }

  /** @returns {boolean} whether the log reaches the newest message of the branch */
  get atNewest() {
    return this._newer === null;
  }

  /**
   * Start a window: `page`'s messages are already in the log; add the buttons it needs.
   * @param {string} conversationId
   * @param {MessagePage} page
   */
  reset(conversationId, page) {
    this.clear();
    this._id = conversationId;
    this._older = page.next_cursor;
    this._newer = page.newer_cursor ?? null;
    if (this._older) this._log.prepend(this._earlier);
    if (this._newer) this._log.append(this._later);
  }

  /** Forget the window (the log is being emptied or another conversation opened). */
  clear() {
    this._serial++;
    this._id = this._older = this._newer = null;
    this._earlier.disabled = this._later.disabled = false;
    this._earlier.remove();
    this._later.remove();
  }

  /**
   * The branch changed below some message (an edit or a regenerate replaced what follows
   * it): there is nothing newer to page to any more.
   */
  dropNewer() {
    this._newer = null;
    this._later.remove();
  }

  /** Load a page at whichever end the log has been scrolled to. */
  scrolled() {
    const log = this._log;
    if (this._older && log.scrollTop < EDGE_PX) void this.loadEarlier();
    if (this._newer && log.scrollHeight - log.scrollTop - log.clientHeight < EDGE_PX) void this.loadNewer();
  }

  /** Prepend the previous page, keeping what is on screen in place. */
  async loadEarlier() {
    const button = this._earlier;
    const page = await this._load(button, this._older && { before: this._older });
    if (!page) return;
    const log = this._log;
    const fromBottom = log.scrollHeight - log.scrollTop;
    button.after(...page.items.map((m) => this._hooks.render(m)));
    this._older = page.next_cursor;
    if (!this._older) {
      const focused = document.activeElement === button;
      button.remove();
      if (focused) log.focus(); // keep the focus in the conversation
    }
    this._hooks.loaded(page);
    log.scrollTop = log.scrollHeight - fromBottom;
  }

  /** Append the next page (below stays below: nothing on screen moves). */
  async loadNewer() {
    const button = this._later;
    const page = await this._load(button, this._newer && { after: this._newer, limit: PAGE_AROUND });
    if (!page) return;
    button.before(...page.items.map((m) => this._hooks.render(m)));
    this._newer = page.newer_cursor ?? null;
    this._hooks.loaded(page);
    if (this._newer) return;
    const focused = document.activeElement === button;
    button.remove();
    if (focused) this._log.focus();
    this._hooks.newest(page.items);
  }

  /**
   * Fetch a page for one of the buttons (once at a time), or null if it failed (the error
   * is shown beside the button) or the window changed meanwhile.
   * @param {HTMLButtonElement} button
   * @param {MessageQuery | null | ''} where
   * @returns {Promise<MessagePage | null>}
   */
  async _load(button, where) {
    const id = this._id;
    const serial = this._serial;
    if (!id || !where || button.disabled || !button.isConnected) return null;
    button.disabled = true;
    /** @type {MessagePage} */
    let page;
    try {
      page = await api.listMessages(id, where);
    } catch (error) {
      if (serial !== this._serial) return null;
      button.disabled = false;
      const shown = notice(describeError(error), null);
      if (button === this._earlier) button.after(shown);
      else button.before(shown);
      return null;
    }
    if (serial !== this._serial) return null;
    button.disabled = false;
    return page;
  }

  /**
   * @param {string} label
   * @param {string} className
   * @param {() => void} onClick
   * @returns {HTMLButtonElement}
   */
  _button(label, className, onClick) {
    const button = h('button', { type: 'button', class: `btn btn--quiet ${className}` }, label);
    button.addEventListener('click', onClick);
    return button;
  }
}
