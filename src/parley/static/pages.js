// The window of the current branch that the log shows. A conversation can hold thousands
// of messages, so the log holds pages of them: "Load earlier messages" above (older
// pages, `before=next_cursor`) and, when the window stops short of the newest message
// (after opening a search hit in the middle, or after scrolling far up), "Load newer
// messages" below (`after=newer_cursor`). Scrolling to either end loads the next page as
// well; the buttons are there for the keyboard and for a page too short to scroll.
//
// The window holds at most MAX_MESSAGES: a page added at one end takes as many away from
// the other, whose cursor becomes the id of the message now at that end (cursors are
// message ids), so that scrolling back there loads them again. The page stays as light
// after scrolling through two thousand messages as when it opened. What the reader is
// working in is never taken away: a message with its editor open (a draft) or holding the
// focus stays, with everything between it and the rest of the window.

import * as api from './api.js';
import { describeError, h } from './dom.js';
import { notice } from './messages.js';

/** @typedef {import('./api.js').Message} Message */
/** @typedef {import('./api.js').MessagePage} MessagePage */
/** @typedef {import('./api.js').MessageQuery} MessageQuery */

/** @typedef {import('./scroll.js').Scroller} Scroller */

/**
 * @typedef {object} PagesHooks
 * @property {(message: Message) => HTMLElement} render
 * @property {(messages: Message[]) => void} newest  paging down reached the newest message
 * @property {(page: MessagePage) => void} loaded  a page was added to the log
 * @property {() => boolean} trimmable  whether the newest end may be taken away: not while a
 *   reply streams into it
 * @property {() => void} bounds  the newest end of the window changed without a page loaded:
 *   whether it reaches the newest message may have too
 */

/** How close to an end (px) scrolling must come to load the next page. */
const EDGE_PX = 120;

/** Messages per page when paging from the middle of a branch. */
export const PAGE_AROUND = 50;

/** Messages the log holds at most: two and a half pages of the newest (100 each). */
export const MAX_MESSAGES = 250;

export class Pages {
  /**
   * @param {HTMLElement} log
   * @param {Scroller} scroller  keeps what is on screen in place as pages come and go
   * @param {PagesHooks} hooks
   */
  constructor(log, scroller, hooks) {
    this._log = log;
    this._scroller = scroller;
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
    this._removeButton(this._later);
    this._hooks.bounds();
  }

  /**
   * A reply has ended: while it streamed, the newest end had to stay, and pages loaded
   * above it may have grown the window past MAX_MESSAGES (the reply and its prompt did as
   * well). Take it back to that, at the end farther from what the reader sees.
   */
  shrink() {
    const log = this._log;
    const below = log.scrollHeight - log.scrollTop - log.clientHeight;
    const newer = this._newer;
    this._scroller.keepInPlace(() => {
      if (log.scrollTop > below) this._trimOldest();
      else this._trimNewest();
    });
    if (this._newer !== newer) this._hooks.bounds();
  }

  /** Load a page at whichever end the log has been scrolled to. */
  scrolled() {
    if (this._atTop()) void this.loadEarlier();
    if (this._atBottom()) void this.loadNewer();
  }

  /** Prepend the previous page, keeping what is on screen in place. */
  async loadEarlier() {
    const button = this._earlier;
    const cursor = this._older;
    const page = await this._load(button, cursor && { before: cursor });
    // The window moved on meanwhile (the other end's page took this end away).
    if (!page || cursor !== this._older) return;
    this._scroller.keepInPlace(() => {
      button.after(...page.items.map((m) => this._hooks.render(m)));
      this._older = page.next_cursor;
      if (!this._older) this._removeButton(button);
      if (this._hooks.trimmable()) this._trimNewest();
      this._hooks.loaded(page);
    });
    // Still at the top (a short page, or the reader kept scrolling while it loaded).
    if (this._atTop()) void this.loadEarlier();
  }

  /** Append the next page (below stays below: nothing on screen moves). */
  async loadNewer() {
    const button = this._later;
    const cursor = this._newer;
    const page = await this._load(button, cursor && { after: cursor, limit: PAGE_AROUND });
    if (!page || cursor !== this._newer) return;
    this._scroller.keepInPlace(() => {
      button.before(...page.items.map((m) => this._hooks.render(m)));
      this._newer = page.newer_cursor ?? null;
      if (!this._newer) this._removeButton(button);
      this._trimOldest();
      this._hooks.loaded(page);
    });
    if (!this._newer) this._hooks.newest(page.items);
    else if (this._atBottom()) void this.loadNewer();
  }

  /** @returns {boolean} whether there are older messages and the log is scrolled to its top */
  _atTop() {
    return Boolean(this._older) && this._log.scrollTop < EDGE_PX;
  }

  /** @returns {boolean} whether there are newer messages and the log is scrolled to its bottom */
  _atBottom() {
    const log = this._log;
    return Boolean(this._newer) && log.scrollHeight - log.scrollTop - log.clientHeight < EDGE_PX;
  }

  /**
   * Take the newest messages beyond MAX_MESSAGES away: "Load newer messages" (or scrolling
   * down) brings them back. The button stays where it is (the focus may be on it).
   */
  _trimNewest() {
    const children = [...this._log.children];
    const messages = children.filter(_isMessage);
    if (messages.length <= MAX_MESSAGES) return;
    const held = this._held(children);
    const keep = Math.max(children.indexOf(messages[MAX_MESSAGES - 1]), held.at(-1) ?? -1);
    const last = children.slice(0, keep + 1).filter(_isMessage).at(-1);
    const gone = children.slice(keep + 1).filter((child) => child !== this._later);
    const id = last?.getAttribute('data-id');
    if (!id || !gone.some(_isMessage)) return;
    for (const child of gone) child.remove(); // with the notices there
    this._newer = id;
    this._later.disabled = false;
    if (!this._later.isConnected) this._log.append(this._later);
  }

  /** Take the oldest messages beyond MAX_MESSAGES away, as `_trimNewest` the newest. */
  _trimOldest() {
    const children = [...this._log.children];
    const messages = children.filter(_isMessage);
    if (messages.length <= MAX_MESSAGES) return;
    const held = this._held(children);
    const keep = Math.min(children.indexOf(messages[messages.length - MAX_MESSAGES]), held[0] ?? Infinity);
    const first = children.slice(keep).find(_isMessage);
    const gone = children.slice(0, keep).filter((child) => child !== this._earlier);
    const id = first?.getAttribute('data-id');
    if (!id || !gone.some(_isMessage)) return;
    for (const child of gone) child.remove();
    this._older = id;
    this._earlier.disabled = false;
    if (!this._earlier.isConnected) this._log.prepend(this._earlier);
  }

  /**
   * @param {Element[]} children  the log's
   * @returns {number[]} where the reader is working, in order: the children holding an open
   *   editor (its draft would be lost) or the focus
   */
  _held(children) {
    const focused = document.activeElement;
    /** @type {number[]} */
    const held = [];
    children.forEach((child, index) => {
      const paging = child === this._earlier || child === this._later;
      if (!paging && (child.contains(focused) || child.querySelector('.edit'))) held.push(index);
    });
    return held;
  }

  /**
   * Remove a button once its end is reached, keeping the focus in the conversation.
   * @param {HTMLButtonElement} button
   */
  _removeButton(button) {
    this._keepFocus(() => button.remove());
  }

  /**
   * Change the log; if that took away what had the focus, give it to the log.
   * @param {() => void} change
   */
  _keepFocus(change) {
    const log = this._log;
    const focused = document.activeElement;
    const inLog = focused !== log && log.contains(focused);
    change();
    if (inLog && !focused?.isConnected) log.focus({ preventScroll: true });
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

/**
 * @param {Element} child  of the log
 * @returns {boolean} whether it is a message (not a notice or a paging button)
 */
function _isMessage(child) {
  return child.classList.contains('msg');
}
