// "Jump to latest": a button floating at the bottom of the log, above the composer, while
// the reader is scrolled away from the newest message (they scrolled up while a reply
// streams, or paged far back, or opened a search hit). Pressing it goes to the newest
// message and follows the conversation again; at the bottom it hides.

import { h } from './dom.js';

export class JumpToLatest {
  /**
   * @param {HTMLElement} log  the button is placed right after it: over its bottom edge on
   *   screen, and between the conversation and the message box in the tab order
   * @param {HTMLElement} prompt  where the focus goes if the button hides while it has it
   * @param {() => void} onPress
   */
  constructor(log, prompt, onPress) {
    this._prompt = prompt;
    this.button = h(
      'button',
      { type: 'button', class: 'btn jump-latest', 'aria-controls': log.id || undefined, hidden: true },
      // The arrow is decoration: the accessible name is the text alone.
      h('span', { class: 'jump-latest__arrow', 'aria-hidden': 'true' }, '↓'),
      'Jump to latest',
    );
    this.button.addEventListener('click', onPress);
    log.after(this.button);
  }

  /** @param {boolean} shown */
  show(shown) {
    if (this.button.hidden === !shown) return;
    const focused = document.activeElement === this.button;
    this.button.hidden = !shown;
    if (focused) this._prompt.focus();
  }
}
