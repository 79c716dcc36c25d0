// "Jump to latest": a button floating at the bottom of the log, above the composer, while
// the reader is scrolled away from the newest message (they scrolled up while a reply
// streams, or paged far back, or opened a search hit). Pressing it goes to the newest
// message and follows the conversation again; at the bottom it hides.
//
// A button that hides with the focus on it gives the focus to the message box, ready to
// type, unless a finger pressed it: on a touch screen a focused box opens the on-screen
// keyboard over the messages just jumped to, so the focus stays in the conversation.

import { h } from './dom.js';

export class JumpToLatest {
  /**
   * @param {HTMLElement} log  the button is placed right after it: over its bottom edge on
   *   screen, and between the conversation and the message box in the tab order
   * @param {HTMLElement} prompt  where the focus goes if the button hides while it has it
   * @param {() => void} onPress
   */
  constructor(log, prompt, onPress) {
    this._log = log;
    this._prompt = prompt;
    /** The last press was a finger's. */
    this._touch = false;
    this.button = h(
      'button',
      { type: 'button', class: 'btn jump-latest', 'aria-controls': log.id || undefined, hidden: true },
      // The arrow is decoration: the accessible name is the text alone.
      h('span', { class: 'jump-latest__arrow', 'aria-hidden': 'true' }, '↓'),
      'Jump to latest',
    );
    // Which kind of press comes: a pointer's (a finger's?) or the keyboard's (no pointerdown).
    this.button.addEventListener('pointerdown', (event) => (this._touch = event.pointerType === 'touch'));
    this.button.addEventListener('keydown', () => (this._touch = false));
    this.button.addEventListener('click', onPress);
    log.after(this.button);
  }

  /** @param {boolean} shown */
  show(shown) {
    if (this.button.hidden === !shown) return;
    const focused = document.activeElement === this.button;
    this.button.hidden = !shown;
    if (focused && this._touch) this._log.focus({ preventScroll: true });
    else if (focused) this._prompt.focus();
  }
}
