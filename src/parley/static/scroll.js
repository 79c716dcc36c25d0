// Where the log is scrolled to. It follows new content (a reply streaming in) until the
// reader scrolls up to read, and follows again once they scroll back to the bottom. A search
// hit or a version just switched to is brought into view and focused instead, and is then
// not scrolled away by a reply streaming meanwhile. Pages added or taken away above keep
// what is on screen in place.
//
// Whether to follow is decided by what the reader did, never by where the log happens to
// be: a fast reply grows between the log's own scroll and the scroll event that reports
// it, and a position alone would take that growth for the reader scrolling up.

import { isTextField } from './textfield.js';

/** How close to the bottom (px) still counts as "at the bottom". */
const STICKY_PX = 48;

/** How long (ms) to keep going to the bottom after a jump there, while the messages come into
 * view, at most: it stops sooner once the bottom has stayed put for STILL_FRAMES. A time, not
 * a count of frames: on a busy machine the layouts come later, not in fewer frames. A message that
 * comes into view is laid out at its real size two frames later (content-visibility: the
 * frame that finds it in view asks for its layout, the next one does it), so the bottom
 * may still move after two frames without moving: a jump from far above to a long reply
 * moves it again on the third. */
const SETTLE_MS = 2000;
const STILL_FRAMES = 4;

/** A wheel's line (deltaMode 1), in px: what browsers scroll for one. */
const LINE_PX = 40;

/** Keys that scroll the focused log up. */
const UP_KEYS = new Set(['PageUp', 'ArrowUp', 'Home']);

export class Scroller {
  /** @param {HTMLElement} log  the message list, which is also the scroller */
  constructor(log) {
    this._log = log;
    /** Follow new content unless the user scrolled up. */
    this._stick = true;
    /** scrollTop as last seen or set here: a scroll event above it went up. */
    this._top = 0;
    /** A finger or the scrollbar holds the log: the log must not move under it. */
    this._held = false;
    this._queued = false;
    /** Whether the bottom is out of view, as last told to `onMoved`. */
    this._away = false;
    /** The frame `toBottom` waits for, while it settles. */
    this._settling = 0;
    /** @type {(away: boolean) => void} told when the bottom comes into or goes out of view */
    this.onMoved = () => {};
    // The reader's own ways up: they stop following at once, before the scroll they cause
    // happens (a frame's follow would otherwise undo it).
    log.addEventListener('wheel', (event) => this._wheeled(event), { passive: true });
    log.addEventListener('keydown', (event) => {
      const up = UP_KEYS.has(event.key) || (event.key === ' ' && event.shiftKey);
      if (up && !isTextField(event.target)) this._release();
    });
    log.addEventListener('touchstart', () => (this._held = true), { passive: true });
    log.addEventListener('pointerdown', (event) => {
      // Only on the scrollbar: a press on a message is a click, not a scroll.
      if (event.target === log && event.offsetX >= log.clientWidth) this._held = true;
    });
    for (const name of ['touchend', 'touchcancel', 'pointerup', 'pointercancel']) {
      window.addEventListener(name, () => (this._held = false), { passive: true });
    }
  }

  /** @returns {boolean} whether the bottom of the log was out of view when last looked at */
  get away() {
    return this._away;
  }

  /**
   * The log was scrolled. Going up (by the reader, anywhere but at the bottom) stops
   * following; coming down to the bottom resumes it. Staying put while the content grew
   * below is the log's own scroll reported late: nothing changes.
   */
  scrolled() {
    const top = this._log.scrollTop;
    const away = this._measureAway();
    if (top < this._top - 1 && away) this._stick = false;
    else if (top > this._top && !away) this._stick = true;
    this._top = top;
    this._tell(away);
  }

  /** A new view starts: follow new content again. */
  reset() {
    this._stick = true;
    this._top = 0;
    this._tell(false);
  }

  /**
   * Go to the newest content, and follow it. The messages that come into view are laid out
   * only then (content-visibility), and may be taller than the room they were given: keep
   * going to the bottom, frame after frame, until it stays put. One jump settles at a time:
   * a new one takes over from the one before.
   */
  toBottom() {
    this._stick = true;
    this._setTop(this._log.scrollHeight);
    this._tell(this._measureAway());
    cancelAnimationFrame(this._settling);
    const deadline = performance.now() + SETTLE_MS;
    let still = 0;
    const settle = () => {
      if (!this._stick || this._held || performance.now() > deadline) return;
      const moved = this._below() > 1;
      if (moved) this._setTop(this._log.scrollHeight);
      this._tell(this._measureAway());
      still = moved ? 0 : still + 1;
      if (still < STILL_FRAMES) this._settling = requestAnimationFrame(settle);
    };
    this._settling = requestAnimationFrame(settle);
  }

  /**
   * Keep the newest content in view, once per frame, unless the user scrolled up; then
   * only see whether the bottom is out of view now (new content arrived below).
   */
  follow() {
    if (this._queued || (!this._stick && this._away)) return;
    this._queued = true;
    requestAnimationFrame(() => {
      this._queued = false;
      if (this._stick && !this._held) this._setTop(this._log.scrollHeight);
      this._tell(this._measureAway());
    });
  }

  /**
   * A wheel turned over something floating over the log but not in it ("Jump to latest"):
   * scroll the log all the same, as the browser would not.
   * @param {WheelEvent} event
   */
  wheelOver(event) {
    if (event.ctrlKey) return; // zooming
    this._wheeled(event);
    const unit = [1, LINE_PX, this._log.clientHeight][event.deltaMode] ?? 1;
    this._log.scrollBy({ top: event.deltaY * unit, behavior: 'instant' });
  }

  /**
   * Change the log's content above or below the reader without moving what they are
   * reading: the first message on screen stays where it is.
   * @param {() => void} change
   */
  keepInPlace(change) {
    const log = this._log;
    const anchor = this._firstOnScreen();
    const before = anchor?.getBoundingClientRect().top ?? 0;
    const fromBottom = log.scrollHeight - log.scrollTop;
    change();
    if (anchor?.isConnected) this._setTop(log.scrollTop + anchor.getBoundingClientRect().top - before);
    else this._setTop(log.scrollHeight - fromBottom);
    this._tell(this._measureAway());
  }

  /**
   * Bring a search hit into view, mark it (a highlight that fades) and focus it, so that
   * a screen reader starts there and the keyboard scrolls from there.
   * @param {HTMLElement} element
   */
  highlight(element) {
    this._stick = false; // a reply streaming meanwhile must not scroll it away
    element.tabIndex = -1;
    element.classList.add('msg--found');
    element.scrollIntoView({ block: 'center' });
    element.focus({ preventScroll: true });
    this._top = this._log.scrollTop;
    this._tell(this._measureAway());
  }

  /**
   * After switching versions: keep the new version in view and the focus on the button
   * pressed (or its other one, if that end is reached), to switch again.
   * @param {HTMLElement} element
   * @param {'previous' | 'next'} direction
   */
  revealVersion(element, direction) {
    this._stick = false;
    element.scrollIntoView({ block: 'nearest' });
    this._top = this._log.scrollTop;
    this._tell(this._measureAway());
    const other = direction === 'next' ? 'previous' : 'next';
    for (const name of [direction, other]) {
      const button = element.querySelector(`.versions__${name}`);
      if (button instanceof HTMLButtonElement && !button.disabled) {
        button.focus();
        return;
      }
    }
    element.tabIndex = -1;
    element.focus();
  }

  /** @returns {number} how far (px) the bottom of the log is below its visible end */
  _below() {
    const log = this._log;
    return log.scrollHeight - log.scrollTop - log.clientHeight;
  }

  /** @returns {boolean} whether the bottom of the log is out of view now */
  _measureAway() {
    return this._below() >= STICKY_PX;
  }

  /**
   * A wheel turned up: the reader goes up, unless it was mostly sideways (a trackpad swipe
   * along a wide code block moves a little up or down as well) or the log cannot go up.
   * @param {WheelEvent} event
   */
  _wheeled(event) {
    const up = event.deltaY < 0 && Math.abs(event.deltaY) > Math.abs(event.deltaX);
    if (up && !event.ctrlKey && this._log.scrollTop > 0) this._release();
  }

  /** The reader went up: stop following. */
  _release() {
    this._stick = false;
  }

  /** @param {number} top  scroll there, remembering it as the log's own position */
  _setTop(top) {
    this._log.scrollTop = top;
    this._top = this._log.scrollTop; // as clamped to the content
  }

  /** @param {boolean} away */
  _tell(away) {
    if (away === this._away) return;
    this._away = away;
    this.onMoved(away);
  }

  /**
   * @returns {HTMLElement | null} the first message whose bottom is below the log's top (a
   *   message, not the paging buttons: those stay at the ends while pages come and go)
   */
  _firstOnScreen() {
    const top = this._log.getBoundingClientRect().top;
    for (const child of this._log.children) {
      if (!(child instanceof HTMLElement) || !child.classList.contains('msg')) continue;
      if (child.getBoundingClientRect().bottom > top) return child;
    }
    return null;
  }
}
