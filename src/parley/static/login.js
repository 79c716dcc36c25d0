// The login page (/login): sends the name and password as JSON, then goes back to the
// page that sent the user here (`?next=`) or to the start page.

import { ApiError, login } from './api.js';
import { byId, describeError } from './dom.js';
import { parleyPath, url as rooted } from './root.js';

const form = byId('login-form', HTMLFormElement);
const name = byId('login-name', HTMLInputElement);
const password = byId('login-password', HTMLInputElement);
const error = byId('login-error', HTMLElement);
const submit = byId('login-submit', HTMLButtonElement);

/**
 * Where to go once logged in: `next` if it is a path of Parley's on this site, else Parley's
 * start page. `next` comes
 * from the URL, so anyone can craft it: a value like "//evil.example", "/\evil.example" or
 * "/\t/evil.example" would leave the site (browsers read "\" as "/" and drop tabs and
 * newlines), which would make this page an open redirect. So besides the string checks the
 * value is resolved as a URL and must keep this page's origin.
 * @param {string | null} next
 * @returns {string}
 */
function _destination(next) {
  const start = rooted('/');
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return start;
  /** @type {URL} */
  let url;
  try {
    url = new URL(next, location.origin);
  } catch {
    return start;
  }
  // Mounted under a path, Parley sends only its own pages here: not the host app's.
  const own = parleyPath(url.pathname);
  if (url.origin !== location.origin || own === null || own === '/login') return start;
  return url.pathname + url.search + url.hash;
}

/** @param {string | null} text */
function _showError(text) {
  error.textContent = text ?? '';
  error.hidden = text === null;
}

/**
 * The sentence for a failed attempt; a 429 says how long to wait when the server said.
 * @param {unknown} failure
 * @returns {string}
 */
function _message(failure) {
  if (failure instanceof ApiError && failure.status === 429 && failure.retryAfter !== null) {
    const seconds = failure.retryAfter;
    // Parley's own detail already names the wait; say it only if the detail does not.
    if (!new RegExp(`\\b${seconds}\\b`).test(failure.message)) {
      return `${failure.message} Try again in ${seconds} second${seconds === 1 ? '' : 's'}.`;
    }
  }
  return describeError(failure);
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (submit.disabled) return;
  // Cleared first so that the same message, shown again, is announced again.
  _showError(null);
  submit.disabled = true;
  form.setAttribute('aria-busy', 'true');
  try {
    await login(name.value, password.value);
  } catch (failure) {
    submit.disabled = false;
    form.removeAttribute('aria-busy');
    _showError(_message(failure));
    // The name stays as typed; the password is typed again.
    password.value = '';
    password.focus();
    return;
  }
  // replace(): Back should not come back to the login form.
  location.replace(_destination(new URLSearchParams(location.search).get('next')));
});

name.focus();
