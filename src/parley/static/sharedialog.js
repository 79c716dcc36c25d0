// The "Share conversation" dialog: a conversation's shared link, a read-only snapshot of it
// at /s/<id>. Not shared yet: "Include files and images" and "Create link". Shared: the
// link (read-only, with "Copy link"), when it was created and last updated, "Update link"
// (a new snapshot at the same URL) and "Revoke". A modal <dialog>: the focus starts on
// Close and goes back to the button that opened it; Esc and Close close it; a refusal is
// shown in it (the server's sentence).

import * as api from './api.js';
import { writeClipboard } from './copy.js';
import { describeError } from './dom.js';
import { Announcer, showError, when } from './sharesdialog.js';

/** @typedef {import('./api.js').Share} Share */

/**
 * @typedef {object} ShareElements
 * @property {HTMLDialogElement} dialog
 * @property {HTMLElement} body        aria-busy while the link loads or changes
 * @property {HTMLButtonElement} close
 * @property {HTMLElement} error       why it failed (role="alert")
 * @property {HTMLElement} status      what was done, "Copied" (role="status")
 * @property {HTMLElement} shared      the link and its dates, shown once shared
 * @property {HTMLInputElement} url    the link, read-only
 * @property {HTMLButtonElement} copy  "Copy link"
 * @property {HTMLElement} dates       created, updated
 * @property {HTMLElement} options     "Include files and images" and its hint
 * @property {HTMLInputElement} files  "Include files and images"
 * @property {HTMLButtonElement} create
 * @property {HTMLButtonElement} update
 * @property {HTMLButtonElement} revoke
 */

export class ShareDialog {
  /** @param {ShareElements} elements */
  constructor(elements) {
    this._el = elements;
    /** @type {string | null} the conversation shown */
    this._conversationId = null;
    /** @type {Share | null} its link, null when not shared */
    this._share = null;
    /** @type {HTMLElement | null} */
    this._opener = null;
    /** Bumped on each opening and closing: a late answer of an earlier one is dropped. */
    this._serial = 0;
    /** A request that changes the link is under way: the buttons wait for it. */
    this._busy = false;
    this._status = new Announcer(elements.status);
    const { dialog, close, copy, create, update, revoke } = elements;
    close.addEventListener('click', () => dialog.close());
    // Esc is the dialog's own "cancel": it closes it, and ends up in the 'close' event too.
    dialog.addEventListener('close', () => this._closed());
    copy.addEventListener('click', () => void this._copy());
    create.addEventListener('click', () => void this._put('Link created.'));
    update.addEventListener('click', () => void this._put('Link updated: it shows the conversation as it is now.'));
    revoke.addEventListener('click', () => void this._revoke());
  }

  /**
   * Open on a conversation's link, fetched again (another tab may have changed it).
   * @param {string} conversationId
   * @param {HTMLElement} opener  gets the focus back when the dialog closes
   */
  async open(conversationId, opener) {
    const { dialog, close } = this._el;
    if (dialog.open) return;
    const serial = ++this._serial;
    this._opener = opener;
    this._conversationId = conversationId;
    this._share = null;
    showError(this._el.error, null);
    this._status.say('');
    this._render(null, true);
    dialog.showModal();
    close.focus();
    try {
      const share = await api.getShare(conversationId);
      if (serial !== this._serial) return;
      this._render(share, false);
    } catch (error) {
      if (serial !== this._serial) return;
      this._render(null, false);
      showError(this._el.error, `Could not load the link. ${describeError(error)}`);
    }
  }

  /**
   * Show the conversation's link, or the choice to create one.
   * @param {Share | null} share
   * @param {boolean} loading  nothing known yet: no buttons
   */
  _render(share, loading) {
    const { body, shared, url, dates, options, files, create, update, revoke } = this._el;
    this._share = share;
    if (loading) body.setAttribute('aria-busy', 'true');
    else body.removeAttribute('aria-busy');
    shared.hidden = share === null;
    options.hidden = loading;
    create.hidden = loading || share !== null;
    update.hidden = revoke.hidden = share === null;
    if (share) {
      url.value = api.shareLink(share);
      dates.replaceChildren('Created ', when(share.created_at), ', updated ', when(share.updated_at), '.');
      files.checked = share.include_files;
    } else {
      url.value = '';
      dates.replaceChildren();
      files.checked = false;
    }
  }

  /**
   * Create the link, or take a new snapshot for it (the same URL).
   * @param {string} done  what to say once it is done
   */
  async _put(done) {
    const id = this._conversationId;
    const { files, url } = this._el;
    if (this._busy || !id) return;
    const serial = this._serial;
    const creating = this._share === null;
    this._setBusy(true);
    showError(this._el.error, null);
    this._status.say('');
    try {
      const share = await api.putShare(id, files.checked);
      if (serial !== this._serial) return;
      this._render(share, false);
      this._status.say(done);
      if (creating) {
        // Create link is gone: the focus goes to what was made, ready to copy.
        url.focus();
        url.select();
      }
    } catch (error) {
      if (serial === this._serial) showError(this._el.error, `Could not ${creating ? 'create' : 'update'} the link. ${describeError(error)}`);
    } finally {
      if (serial === this._serial) this._setBusy(false);
    }
  }

  async _revoke() {
    const share = this._share;
    if (this._busy || !share) return;
    const serial = this._serial;
    this._setBusy(true);
    showError(this._el.error, null);
    this._status.say('');
    try {
      await api.revokeShare(share.id);
    } catch (error) {
      // 404: revoked already (in another tab), which is what was asked.
      if (!(error instanceof api.ApiError && error.status === 404)) {
        if (serial === this._serial) {
          this._setBusy(false);
          showError(this._el.error, `Could not revoke the link. ${describeError(error)}`);
        }
        return;
      }
    }
    if (serial !== this._serial) return;
    this._setBusy(false);
    this._render(null, false);
    this._status.say('Link revoked: its page is gone.');
    this._el.create.focus(); // Revoke is gone
  }

  async _copy() {
    const { url } = this._el;
    try {
      await writeClipboard(url.value);
      this._status.say('Copied');
    } catch {
      url.focus();
      url.select();
      this._status.say('Press Ctrl+C (⌘C on a Mac) to copy the selected link.');
    }
  }

  /**
   * While a request is under way the buttons do nothing; they keep the focus
   * (aria-disabled, not disabled, which would drop it).
   * @param {boolean} busy
   */
  _setBusy(busy) {
    const { body, create, update, revoke } = this._el;
    this._busy = busy;
    for (const button of [create, update, revoke]) {
      if (busy) button.setAttribute('aria-disabled', 'true');
      else button.removeAttribute('aria-disabled');
    }
    if (busy) body.setAttribute('aria-busy', 'true');
    else body.removeAttribute('aria-busy');
  }

  _closed() {
    this._serial++;
    this._setBusy(false);
    this._conversationId = null;
    this._status.say('');
    const opener = this._opener;
    this._opener = null;
    if (opener?.isConnected && !(opener instanceof HTMLButtonElement && opener.disabled)) opener.focus();
  }
}
