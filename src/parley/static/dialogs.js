// Asking before something that cannot be undone, in a modal <dialog>: the rest of the
// page is inert while it is open, Esc cancels, the focus starts on the safe choice
// (Cancel) and goes back where it was when the dialog closes.

import { byId } from './dom.js';

/**
 * @typedef {object} ConfirmOptions
 * @property {string} title    the dialog's name ("Delete conversation?")
 * @property {string} text     what will happen, in a sentence
 * @property {string} confirm  the button that does it ("Delete")
 */

/**
 * Ask; resolves true if the user confirmed, false if they cancelled (Cancel, Esc).
 * The dialog is #confirm-dialog of index.html.
 * @param {ConfirmOptions} options
 * @returns {Promise<boolean>}
 */
export function confirmAction(options) {
  const dialog = byId('confirm-dialog', HTMLDialogElement);
  const title = byId('confirm-title', HTMLElement);
  const text = byId('confirm-text', HTMLElement);
  const yes = byId('confirm-yes', HTMLButtonElement);
  const no = byId('confirm-no', HTMLButtonElement);
  if (dialog.open) return Promise.resolve(false);
  const opener = document.activeElement;
  title.textContent = options.title;
  text.textContent = options.text;
  yes.textContent = options.confirm;
  return new Promise((resolve) => {
    const controller = new AbortController();
    const { signal } = controller;
    yes.addEventListener('click', () => dialog.close('yes'), { signal });
    no.addEventListener('click', () => dialog.close('no'), { signal });
    // Esc ends in 'close' too (with an empty returnValue): one place settles the answer.
    dialog.addEventListener(
      'close',
      () => {
        controller.abort();
        if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
        resolve(dialog.returnValue === 'yes');
      },
      { signal },
    );
    dialog.returnValue = '';
    dialog.showModal();
    no.focus();
  });
}
