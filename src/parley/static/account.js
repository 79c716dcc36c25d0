// The account controls at the foot of the sidebar, shown in accounts mode only: who is
// logged in, the "API tokens" dialog, and "Log out".

import * as api from './api.js';
import { describeError } from './dom.js';
import { url } from './root.js';

/** @typedef {import('./api.js').User} User */
/** @typedef {import('./tokens.js').TokensDialog} TokensDialog */

/**
 * @typedef {object} AccountElements
 * @property {HTMLElement} root          hidden until `show`
 * @property {HTMLElement} name          the user's name
 * @property {HTMLButtonElement} tokens  "API tokens"
 * @property {HTMLButtonElement} logout  "Log out"
 * @property {HTMLElement} error         failures (role="alert")
 */

export class Account {
  /**
   * @param {AccountElements} elements
   * @param {TokensDialog} dialog
   */
  constructor(elements, dialog) {
    this._el = elements;
    elements.tokens.addEventListener('click', () => dialog.open(elements.tokens));
    elements.logout.addEventListener('click', () => void this._logout());
  }

  /** @param {User} user  the logged-in user */
  show(user) {
    const { root, name } = this._el;
    // textContent: a name is whatever the user chose, never markup.
    name.textContent = user.name;
    name.title = user.name; // the whole name when a long one is cut short
    root.hidden = false;
  }

  async _logout() {
    const { logout, error } = this._el;
    logout.disabled = true;
    error.hidden = true;
    try {
      await api.logout();
    } catch (failure) {
      logout.disabled = false;
      logout.focus(); // disabling it had dropped the focus
      error.textContent = `Could not log out. ${describeError(failure)}`;
      error.hidden = false;
      return;
    }
    location.assign(url('/login'));
  }
}
