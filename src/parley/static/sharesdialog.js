// The "Shared links" dialog: every link the user shared, newest first, each with its
// conversation's title (a link to the shared page, in a new tab), when it was created and
// last updated, "Copy link" and "Revoke". A modal <dialog>: Esc and Close close it, and
// the focus goes back to the button that opened it. Titles are shown as text.

import * as api from './api.js';
import { writeClipboard } from './copy.js';
import { describeError, h } from './dom.js';

/** @typedef {import('./api.js').Share} Share */

/**
 * @typedef {object} SharesElements
 * @property {HTMLDialogElement} dialog
 * @property {HTMLButtonElement} close
 * @property {HTMLElement} error    failures (role="alert")
 * @property {HTMLElement} status   "Revoked …", "Copied" (role="status")
 * @property {HTMLUListElement} list
 * @property {HTMLElement} empty    "No shared links."
 */

const DATE_FORMAT = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/**
 * A date as the reader's locale writes it, in a <time> holding the ISO form.
 * @param {string} iso
 * @returns {HTMLTimeElement}
 */
export function when(iso) {
  const date = new Date(iso);
  const shown = Number.isNaN(date.getTime()) ? iso : DATE_FORMAT.format(date);
  return h('time', { datetime: iso }, shown);
}

/**
 * Show a dialog's failure in its alert region, or hide the region (null).
 * @param {HTMLElement} region  role="alert"
 * @param {string | null} text
 */
export function showError(region, text) {
  region.textContent = text ?? '';
  region.hidden = text === null;
}

/**
 * Says what was done in a modal dialog's own status region: the page's (copy.js's) is inert
 * behind a modal dialog, so screen readers would not hear it. Emptied first and filled a
 * moment later, so the same words twice ("Copied") are announced twice.
 */
export class Announcer {
  /** @param {HTMLElement} region  role="status" */
  constructor(region) {
    this._region = region;
    /** @type {number | undefined} */
    this._saying = undefined;
  }

  /** @param {string} text  '' empties the region */
  say(text) {
    const region = this._region;
    clearTimeout(this._saying);
    region.textContent = '';
    if (text) this._saying = window.setTimeout(() => (region.textContent = text), 50);
  }
}

/** @param {Share} share */
const _title = (share) => share.title || 'Untitled';

export class SharesDialog {
  /** @param {SharesElements} elements */
  constructor(elements) {
    this._el = elements;
    /** @type {Share[] | null} null until the list has loaded */
    this._shares = null;
    /** Only the newest load may render (answers can arrive out of order). */
    this._loads = 0;
    /** @type {HTMLElement | null} */
    this._opener = null;
    this._status = new Announcer(elements.status);
    const { dialog, close } = elements;
    close.addEventListener('click', () => dialog.close());
    // Esc is the dialog's own "cancel": it closes it, and ends up in the 'close' event too.
    dialog.addEventListener('close', () => this._closed());
  }

  /**
   * Open the dialog and (re)load the list.
   * @param {HTMLElement} opener  gets the focus back when the dialog closes
   */
  open(opener) {
    const { dialog, close } = this._el;
    if (dialog.open) return;
    this._opener = opener;
    this._shares = null;
    showError(this._el.error, null);
    this._status.say('');
    this._render();
    dialog.showModal();
    close.focus();
    void this._load();
  }

  async _load() {
    const serial = ++this._loads;
    const { list } = this._el;
    list.setAttribute('aria-busy', 'true');
    try {
      const { items } = await api.listShares();
      if (serial !== this._loads) return;
      this._shares = items;
      this._render();
    } catch (error) {
      if (serial === this._loads) showError(this._el.error, `Could not load the shared links. ${describeError(error)}`);
    } finally {
      if (serial === this._loads) list.removeAttribute('aria-busy');
    }
  }

  _render() {
    const { list, empty } = this._el;
    const shares = this._shares ?? [];
    list.replaceChildren(...shares.map((share) => this._item(share)));
    list.hidden = shares.length === 0;
    empty.hidden = this._shares === null || shares.length > 0;
  }

  /**
   * @param {Share} share
   * @returns {HTMLLIElement}
   */
  _item(share) {
    const title = _title(share);
    const copy = h(
      'button',
      { type: 'button', class: 'btn btn--small share__copy', 'aria-label': `Copy link to ${title}` },
      'Copy link',
    );
    copy.addEventListener('click', () => void this._copy(share, copy));
    const revoke = h(
      'button',
      { type: 'button', class: 'btn btn--small btn--danger-quiet share__revoke', 'aria-label': `Revoke link to ${title}` },
      'Revoke',
    );
    revoke.addEventListener('click', () => void this._revoke(share, revoke));
    return h(
      'li',
      { class: 'shares__item', 'data-id': share.id },
      h(
        'div',
        { class: 'shares__text' },
        h(
          'a',
          { class: 'shares__title', href: share.url, target: '_blank', rel: 'noopener' },
          title,
          h('span', { class: 'visually-hidden' }, ' (opens in a new tab)'),
        ),
        h('p', { class: 'shares__dates' }, 'Created ', when(share.created_at), ', updated ', when(share.updated_at)),
      ),
      h('div', { class: 'shares__actions' }, copy, revoke),
    );
  }

  /**
   * @param {Share} share
   * @param {HTMLButtonElement} button
   */
  async _copy(share, button) {
    try {
      await writeClipboard(api.shareLink(share));
      this._status.say(`Copied the link to “${_title(share)}”.`);
    } catch {
      this._status.say('Could not copy: open the page and copy its address.');
      button.focus();
    }
  }

  /**
   * @param {Share} share
   * @param {HTMLButtonElement} button
   */
  async _revoke(share, button) {
    if (button.getAttribute('aria-disabled') === 'true') return;
    button.setAttribute('aria-disabled', 'true');
    showError(this._el.error, null);
    try {
      await api.revokeShare(share.id);
    } catch (error) {
      // 404: it was revoked already (in another tab), which is what was asked.
      if (!(error instanceof api.ApiError && error.status === 404)) {
        button.removeAttribute('aria-disabled');
        showError(this._el.error, `Could not revoke the link to “${_title(share)}”. ${describeError(error)}`);
        return;
      }
    }
    if (!this._el.dialog.open) return;
    this._loads++; // a load in flight may still list it
    this._el.list.removeAttribute('aria-busy');
    const shares = this._shares ?? [];
    const index = shares.findIndex((s) => s.id === share.id);
    this._shares = shares.filter((s) => s.id !== share.id);
    this._render();
    this._status.say(`Revoked the link to “${_title(share)}”.`);
    // The focus was on the button that is now gone: the next row's, or Close.
    const buttons = this._el.list.querySelectorAll('.share__revoke');
    const next = buttons[Math.min(Math.max(index, 0), buttons.length - 1)];
    if (next instanceof HTMLElement) next.focus();
    else this._el.close.focus();
  }

  _closed() {
    this._loads++; // drop a load still in flight
    this._el.list.removeAttribute('aria-busy');
    showError(this._el.error, null);
    this._status.say('');
    const opener = this._opener;
    this._opener = null;
    if (opener?.isConnected) opener.focus();
  }
}
