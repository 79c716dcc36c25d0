// Copying the last reply (Ctrl+Shift+C / ⌘⇧C). The reply's own Copy button knows its
// markdown and says "Copied" itself (actions.js): press it when it is there. Otherwise
// (a reply still being written, a page without the button) copy the reply's text as shown.

import { h } from './dom.js';

/**
 * @param {HTMLElement} log     the message list
 * @param {HTMLElement} status  says what happened, for a moment (role="status"; shown while
 *   it has something to say)
 * @returns {boolean} whether there was a reply to copy
 */
export function copyLastReply(log, status) {
  const replies = log.querySelectorAll('[data-role="assistant"]');
  const reply = replies[replies.length - 1];
  if (!(reply instanceof HTMLElement)) return false;
  const button = [...reply.querySelectorAll('button')].find((b) => _name(b) === 'Copy');
  if (button && !button.disabled) {
    button.click();
    return true;
  }
  void _copy(_text(reply)).then(
    () => _say(status, 'Copied the last reply.'),
    (error) => {
      console.warn('parley: could not copy the reply', error);
      _say(status, 'Could not copy the reply.');
    },
  );
  return true;
}

/** @param {HTMLButtonElement} button */
const _name = (button) => (button.getAttribute('aria-label') ?? button.textContent ?? '').trim();

/**
 * The reply's text parts as the page shows them (not its thinking, tool calls or buttons).
 * @param {HTMLElement} reply
 * @returns {string}
 */
function _text(reply) {
  const parts = [...reply.querySelectorAll('.md, .md-tail')].map((p) => (p instanceof HTMLElement ? p.innerText.trim() : ''));
  return parts.filter(Boolean).join('\n\n');
}

/**
 * navigator.clipboard exists only in secure contexts (HTTPS, localhost): Parley served over
 * plain HTTP on a home network has none, where the older execCommand still copies.
 * @param {string} text
 * @returns {Promise<void>}
 */
async function _copy(text) {
  if (navigator.clipboard) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const focused = document.activeElement;
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.className = 'visually-hidden';
  document.body.append(area);
  area.select();
  const copied = document.execCommand('copy');
  area.remove();
  if (focused instanceof HTMLElement) focused.focus();
  if (!copied) throw new Error('the browser refused to copy');
}

/** @type {number | undefined} */
let _timer;

/**
 * The status region itself stays in the page: a region that appears with its text in it is
 * not announced by every screen reader. What comes and goes is the line inside it.
 * @param {HTMLElement} status
 * @param {string} text
 */
function _say(status, text) {
  status.replaceChildren(h('p', { class: 'toast' }, text));
  clearTimeout(_timer);
  _timer = window.setTimeout(() => status.replaceChildren(), 2500);
}
