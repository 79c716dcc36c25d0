// The "Keyboard shortcuts" dialog (the ? key, or the button of that name): a table of
// keyboard.js's SHORTCUTS, drawn once. A modal <dialog>: the page behind is inert, Esc and
// Close close it, and the focus goes back to where it was.

import { h } from './dom.js';
import { SHORTCUTS } from './keyboard.js';

/**
 * @typedef {object} ShortcutsDialogElements
 * @property {HTMLDialogElement} dialog
 * @property {HTMLTableSectionElement} list  the table's body
 * @property {HTMLButtonElement} close
 */

export class ShortcutsDialog {
  /** @param {ShortcutsDialogElements} elements */
  constructor(elements) {
    this._el = elements;
    /** @type {HTMLElement | null} */
    this._opener = null;
    const { dialog, list, close } = elements;
    list.replaceChildren(...SHORTCUTS.map((s) => h('tr', {}, h('td', {}, s.label), h('td', {}, ..._keys(s.keys)))));
    close.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => {
      const opener = this._opener;
      this._opener = null;
      if (opener?.isConnected) opener.focus();
    });
  }

  /** @param {HTMLElement} opener  gets the focus back when the dialog closes */
  open(opener) {
    const { dialog, close } = this._el;
    if (dialog.open) return;
    this._opener = opener;
    dialog.showModal();
    close.focus();
  }
}

/**
 * "Ctrl + Shift + O", each key a <kbd>; ways to type the same thing joined by "or".
 * @param {string[][]} ways
 * @returns {(Node | string)[]}
 */
function _keys(ways) {
  return ways.flatMap((keys, i) => [
    ...(i ? [' or '] : []),
    ...keys.flatMap((key, j) => [...(j ? [' + '] : []), h('kbd', {}, key)]),
  ]);
}
