// The model notice under the header ("This is SmolLM2-135M, a tiny model…", from
// /api/info): shown until its Dismiss button is pressed. The dismissal is remembered in
// localStorage with the notice's text, so a different notice (another model) shows again.

const KEY = 'parley.dismissed-notice';

/**
 * @typedef {object} NoticeElements
 * @property {HTMLElement} root      hidden until there is something to say
 * @property {HTMLElement} text
 * @property {HTMLButtonElement} dismiss
 */

/**
 * Show `message`, unless this very notice was dismissed before.
 * @param {NoticeElements} elements
 * @param {string} message
 * @param {() => void} dismissed  the button is gone: put the focus somewhere useful
 */
export function showNotice(elements, message, dismissed) {
  const { root, text, dismiss } = elements;
  if (_read() === message) return;
  text.textContent = message;
  root.hidden = false;
  dismiss.addEventListener(
    'click',
    () => {
      root.hidden = true;
      _write(message);
      dismissed();
    },
    { once: true },
  );
}

/** @returns {string | null} */
function _read() {
  try {
    return localStorage.getItem(KEY);
  } catch {
    return null; // storage disabled: the notice shows on every visit
  }
}

/** @param {string} message */
function _write(message) {
  try {
    localStorage.setItem(KEY, message);
  } catch {
    // Not remembered: gone until the next visit only.
  }
}
