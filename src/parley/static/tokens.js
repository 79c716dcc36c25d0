// The "API tokens" dialog (accounts mode): lists the user's tokens, creates one and shows
// its secret this once, revokes them. A modal <dialog>: Esc and Close close it, and the
// focus goes back to the button that opened it.

import * as api from './api.js';
import { describeError, h } from './dom.js';

/** @typedef {import('./api.js').Token} Token */
/** @typedef {import('./api.js').NewToken} NewToken */

/**
 * @typedef {object} TokensElements
 * @property {HTMLDialogElement} dialog
 * @property {HTMLButtonElement} close
 * @property {HTMLElement} error         failures (role="alert")
 * @property {HTMLElement} status        "Revoked …" (role="status")
 * @property {HTMLTableElement} table
 * @property {HTMLTableSectionElement} list
 * @property {HTMLElement} empty         shown when there are no tokens
 * @property {HTMLFormElement} form
 * @property {HTMLInputElement} name     "Token name"
 * @property {HTMLButtonElement} create
 * @property {HTMLElement} created       the panel that shows a new token's secret
 * @property {HTMLElement} createdTitle
 * @property {HTMLInputElement} secret   read-only
 * @property {HTMLButtonElement} copy
 * @property {HTMLElement} copyStatus    "Copied" (role="status")
 */

const DATE_FORMAT = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export class TokensDialog {
  /** @param {TokensElements} elements */
  constructor(elements) {
    this._el = elements;
    /** @type {Token[] | null} null until the list has loaded */
    this._tokens = null;
    /** Only the newest load may render (answers can arrive out of order). */
    this._loads = 0;
    /** @type {string | null} the token whose secret is on show */
    this._shownId = null;
    /** @type {HTMLElement | null} */
    this._opener = null;
    /** @type {Map<HTMLElement, number>} messages waiting to be put in a live region */
    this._pending = new Map();
    const { dialog, close, form, copy } = elements;
    close.addEventListener('click', () => dialog.close());
    // Esc is the dialog's own "cancel": it closes it, and ends up in the 'close' event too.
    dialog.addEventListener('close', () => this._closed());
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this._create();
    });
    copy.addEventListener('click', () => void this._copy());
  }

  /**
   * Open the dialog and (re)load the list.
   * @param {HTMLElement} opener  gets the focus back when the dialog closes
   */
  open(opener) {
    const { dialog } = this._el;
    if (dialog.open) return;
    this._opener = opener;
    this._showError(null);
    this._say(this._el.status, '');
    dialog.showModal();
    void this._load();
  }

  async _load() {
    const serial = ++this._loads;
    const { table } = this._el;
    table.setAttribute('aria-busy', 'true');
    try {
      const { items } = await api.listTokens();
      if (serial !== this._loads) return;
      this._tokens = items;
      this._render();
    } catch (error) {
      if (serial === this._loads) this._showError(`Could not load the tokens. ${describeError(error)}`);
    } finally {
      if (serial === this._loads) table.removeAttribute('aria-busy');
    }
  }

  _render() {
    const { table, list, empty } = this._el;
    const tokens = this._tokens ?? [];
    list.replaceChildren(...tokens.map((token) => this._row(token)));
    table.hidden = tokens.length === 0;
    empty.hidden = this._tokens === null || tokens.length > 0;
  }

  /**
   * @param {Token} token
   * @returns {HTMLTableRowElement}
   */
  _row(token) {
    const revoke = h(
      'button',
      { type: 'button', class: 'btn btn--small btn--danger-quiet token__revoke', 'aria-label': `Revoke ${token.name}` },
      'Revoke',
    );
    revoke.addEventListener('click', () => void this._revoke(token, revoke));
    return h(
      'tr',
      { 'data-id': token.id },
      h('th', { scope: 'row', class: 'token__name' }, token.name),
      h('td', {}, _when(token.created_at)),
      h('td', {}, token.last_used_at ? _when(token.last_used_at) : 'Never'),
      h('td', { class: 'token__actions' }, revoke),
    );
  }

  async _create() {
    const { name, create } = this._el;
    const value = name.value.trim();
    if (!value) {
      this._showError('Give the token a name.');
      name.focus();
      return;
    }
    this._showError(null);
    create.disabled = true;
    /** @type {NewToken} */
    let token;
    try {
      token = await api.createToken(value);
    } catch (error) {
      this._showError(`Could not create the token. ${describeError(error)}`);
      name.focus();
      return;
    } finally {
      create.disabled = false;
    }
    name.value = '';
    this._showSecret(token);
    void this._load();
  }

  /**
   * Show a new token's secret, once: it is forgotten when the dialog closes, and the
   * server cannot show it again.
   * @param {NewToken} token
   */
  _showSecret(token) {
    const { created, createdTitle, secret, copyStatus } = this._el;
    this._shownId = token.id;
    createdTitle.textContent = `New token “${token.name}”`;
    secret.value = token.token;
    this._say(copyStatus, '');
    created.hidden = false;
    secret.focus();
    secret.select();
  }

  _forgetSecret() {
    const { created, secret, copyStatus } = this._el;
    this._shownId = null;
    secret.value = '';
    this._say(copyStatus, '');
    created.hidden = true;
  }

  async _copy() {
    const { secret, copyStatus } = this._el;
    try {
      // navigator.clipboard exists only in secure contexts (HTTPS or localhost).
      if (!navigator.clipboard) throw new Error('no clipboard');
      await navigator.clipboard.writeText(secret.value);
      this._say(copyStatus, 'Copied.');
    } catch {
      secret.focus();
      secret.select();
      this._say(copyStatus, 'Press Ctrl+C (⌘C on a Mac) to copy the selected token.');
    }
  }

  /**
   * @param {Token} token
   * @param {HTMLButtonElement} button
   */
  async _revoke(token, button) {
    button.disabled = true;
    this._showError(null);
    try {
      await api.revokeToken(token.id);
    } catch (error) {
      // 404: it was revoked already (in another tab), which is what was asked.
      if (!(error instanceof api.ApiError && error.status === 404)) {
        button.disabled = false;
        this._showError(`Could not revoke “${token.name}”. ${describeError(error)}`);
        return;
      }
    }
    this._loads++; // a load in flight may still list it
    const tokens = this._tokens ?? [];
    const index = tokens.findIndex((t) => t.id === token.id);
    this._tokens = tokens.filter((t) => t.id !== token.id);
    if (this._shownId === token.id) this._forgetSecret(); // it no longer works
    this._el.table.removeAttribute('aria-busy');
    this._render();
    this._say(this._el.status, `Revoked “${token.name}”.`);
    // The focus was on the button that is now gone: move it to the next row's, or the form.
    const buttons = this._el.list.querySelectorAll('.token__revoke');
    const next = buttons[Math.min(Math.max(index, 0), buttons.length - 1)];
    if (next instanceof HTMLElement) next.focus();
    else this._el.name.focus();
  }

  _closed() {
    this._loads++; // drop a load still in flight
    this._el.table.removeAttribute('aria-busy');
    this._forgetSecret();
    this._showError(null);
    this._el.name.value = '';
    this._opener?.focus();
    this._opener = null;
  }

  /** @param {string | null} text */
  _showError(text) {
    this._el.error.textContent = text ?? '';
    this._el.error.hidden = text === null;
  }

  /**
   * Put a message in a live region. It is emptied first and filled a moment later, so
   * that the same message twice ("Copied.") is announced twice.
   * @param {HTMLElement} region
   * @param {string} text
   */
  _say(region, text) {
    clearTimeout(this._pending.get(region));
    this._pending.delete(region);
    region.textContent = '';
    if (!text) return;
    this._pending.set(region, setTimeout(() => {
      this._pending.delete(region);
      region.textContent = text;
    }, 50));
  }
}

/**
 * @param {string} iso
 * @returns {HTMLTimeElement}
 */
function _when(iso) {
  const date = new Date(iso);
  const shown = Number.isNaN(date.getTime()) ? iso : DATE_FORMAT.format(date);
  return h('time', { datetime: iso }, shown);
}
