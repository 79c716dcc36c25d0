// Getting conversations in and out. `Importer`: the sidebar's "Import" button, which opens
// a file chooser and sends the chosen file (a Parley export, or ChatGPT's or Claude's
// conversations.json) to the server as it is, then says what was imported, skipped and
// refused (and why), or why the whole file was refused. `ExportMenu`: the header's
// "Export" button, a disclosure of two download links (Markdown, JSON) that closes on Esc,
// a click elsewhere, the focus leaving it, or a choice. "Export all" is a plain link.

import * as api from './api.js';
import { describeError, h } from './dom.js';

/** @typedef {import('./api.js').ImportResult} ImportResult */
/** @typedef {import('./api.js').Refusal} Refusal */

/**
 * @typedef {object} ImportElements
 * @property {HTMLButtonElement} button    "Import"
 * @property {HTMLInputElement} input      the file chooser (type=file, hidden)
 * @property {HTMLElement} status          what the import did (role="status")
 * @property {HTMLElement} error           why the file was refused (role="alert")
 * @property {HTMLUListElement} refusals   the conversations not imported, and why
 * @property {HTMLButtonElement} dismiss   clears the report
 */

/**
 * @typedef {object} ImportHooks
 * @property {(result: ImportResult) => void} imported  new conversations may be listed
 */

const FORMATS = { parley: 'Parley', chatgpt: 'ChatGPT', claude: 'Claude' };

/**
 * "3 conversations", "1 conversation".
 * @param {number} n
 */
const _conversations = (n) => `${n} conversation${n === 1 ? '' : 's'}`;

/**
 * What an import did, in a sentence.
 * @param {ImportResult} result
 * @returns {string}
 */
function _summary(result) {
  const from = FORMATS[result.format] ?? result.format;
  return (
    `Imported ${_conversations(result.imported)}, skipped ${result.skipped} already imported, ` +
    `refused ${result.refused} (from a ${from} export).`
  );
}

export class Importer {
  /**
   * @param {ImportElements} elements
   * @param {ImportHooks} hooks
   */
  constructor(elements, hooks) {
    this._el = elements;
    this._hooks = hooks;
    this._busy = false;
    const { button, input, dismiss } = elements;
    button.addEventListener('click', () => {
      if (!this._busy) input.click();
    });
    input.addEventListener('change', () => {
      const file = input.files?.[0];
      // Emptied at once, so that choosing the same file again is a change too.
      input.value = '';
      if (file) void this._import(file);
    });
    dismiss.addEventListener('click', () => {
      this._clear();
      button.focus(); // Dismiss is gone
    });
  }

  /** @param {File} file */
  async _import(file) {
    const { button, status } = this._el;
    this._busy = true;
    // aria-disabled, not disabled: the button keeps the focus it has after the chooser.
    button.setAttribute('aria-disabled', 'true');
    this._clear();
    status.textContent = `Importing “${file.name}”…`;
    try {
      const result = await api.importFile(file);
      this._show(result);
      this._hooks.imported(result);
    } catch (error) {
      status.textContent = '';
      this._showError(`Could not import “${file.name}”. ${describeError(error)}`);
    } finally {
      this._busy = false;
      button.removeAttribute('aria-disabled');
    }
  }

  /** @param {ImportResult} result */
  _show(result) {
    const { status, refusals } = this._el;
    status.textContent = _summary(result);
    const items = result.refusals.map(_refusal);
    // The server lists the first refusals only (100).
    const unlisted = result.refused - result.refusals.length;
    if (unlisted > 0) items.push(h('li', { class: 'import__refusal' }, `and ${_conversations(unlisted)} more`));
    refusals.replaceChildren(...items);
    refusals.hidden = items.length === 0;
    this._el.dismiss.hidden = false;
  }

  _clear() {
    const { status, refusals, dismiss } = this._el;
    status.textContent = '';
    refusals.replaceChildren();
    refusals.hidden = true;
    dismiss.hidden = true;
    this._showError(null);
  }

  /** @param {string | null} text */
  _showError(text) {
    const { error, dismiss } = this._el;
    error.textContent = text ?? '';
    error.hidden = text === null;
    if (text !== null) dismiss.hidden = false;
  }
}

/**
 * @param {Refusal} refusal
 * @returns {HTMLLIElement}
 */
function _refusal(refusal) {
  const name = refusal.title ? `“${refusal.title}”` : `Conversation ${refusal.index + 1}`;
  return h('li', { class: 'import__refusal' }, h('span', { class: 'import__refused' }, name), `: ${refusal.detail}`);
}

/**
 * @typedef {object} ExportMenuElements
 * @property {HTMLElement} root           holds the button and the menu
 * @property {HTMLButtonElement} toggle   "Export" (aria-expanded)
 * @property {HTMLElement} menu           the links
 */

export class ExportMenu {
  /** @param {ExportMenuElements} elements */
  constructor(elements) {
    this._el = elements;
    const { root, toggle, menu } = elements;
    toggle.addEventListener('click', () => this._set(toggle.getAttribute('aria-expanded') !== 'true'));
    root.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape' || menu.hidden) return;
      // Esc closes the menu and does nothing else (it would stop a reply).
      event.preventDefault();
      this._set(false);
      toggle.focus();
    });
    // A choice downloads the file: the menu has done its job.
    menu.addEventListener('click', (event) => {
      if (event.target instanceof Element && event.target.closest('a')) this._set(false);
    });
    root.addEventListener('focusout', (event) => {
      if (!(event.relatedTarget instanceof Node && root.contains(event.relatedTarget))) this._set(false);
    });
    document.addEventListener('pointerdown', (event) => {
      if (!(event.target instanceof Node && root.contains(event.target))) this._set(false);
    });
  }

  /** @param {boolean} open */
  _set(open) {
    const { toggle, menu } = this._el;
    toggle.setAttribute('aria-expanded', String(open));
    menu.hidden = !open;
  }
}
