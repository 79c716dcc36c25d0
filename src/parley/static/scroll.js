// Where the log is scrolled to. It follows new content (a reply streaming in) while the
// reader is at the bottom, and stops following once they scroll up to read. A search hit
// or a version just switched to is brought into view and focused instead, and is then
// not scrolled away by a reply streaming meanwhile.

/** How close to the bottom (px) still counts as "at the bottom" for autoscroll. */
const STICKY_PX = 48;

export class Scroller {
  /** @param {HTMLElement} log  the message list, which is also the scroller */
  constructor(log) {
    this._log = log;
    /** Follow new content unless the user scrolled up. */
    this._stick = true;
    this._queued = false;
  }

  /** The log was scrolled: follow new content only from the bottom. */
  scrolled() {
    const log = this._log;
    this._stick = log.scrollHeight - log.scrollTop - log.clientHeight < STICKY_PX;
  }

  /** A new view starts: follow new content again. */
  reset() {
    this._stick = true;
  }

  /** Go to the newest content, and follow it. */
  toBottom() {
    this._stick = true;
    this._log.scrollTop = this._log.scrollHeight;
  }

  /** Keep the newest content in view, once per frame, unless the user scrolled up. */
  follow() {
    if (!this._stick || this._queued) return;
    this._queued = true;
    requestAnimationFrame(() => {
      this._queued = false;
      if (this._stick) this._log.scrollTop = this._log.scrollHeight;
    });
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
}
