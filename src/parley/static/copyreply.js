// Copying the last reply (Ctrl+Shift+C / ⌘⇧C). The reply's own Copy button knows its
// markdown and says "Copied" itself (actions.js): press it when it is there. A reply still
// being written (its Copy button is hidden until it ends), or one without the button, is
// copied as the page shows it. When the log stops short of the newest message (paged far
// back, or opened at a search hit), its last reply is not the conversation's: the newest
// one is fetched instead.

import * as api from './api.js';
import { writeClipboard } from './copy.js';
import { h } from './dom.js';

/**
 * What copying needs to know of the open conversation.
 * @typedef {object} OpenConversation
 * @property {string | null} conversationId
 * @property {boolean} atNewest  whether the log reaches the branch's newest message
 */

/** The branch has no reply yet: said as such, not as a failure. */
class NoReply extends Error {}

/**
 * @param {HTMLElement} log     the message list
 * @param {HTMLElement} status  says what happened, for a moment (role="status"; shown while
 *   it has something to say)
 * @param {OpenConversation} open
 * @returns {boolean} whether there was a reply to copy (or one is being fetched)
 */
export function copyLastReply(log, status, open) {
  if (open.conversationId && !open.atNewest) {
    const text = _newestReply(open.conversationId);
    // Handed over as a promise (Safari writes only while the key is being handled). Its
    // rejection then fails the write with an error of the clipboard's own: the fetch's
    // says better what went wrong.
    _report(status, writeClipboard(text).catch(async (error) => {
      await text;
      throw error;
    }));
    return true;
  }
  const replies = log.querySelectorAll('[data-role="assistant"]');
  const reply = replies[replies.length - 1];
  if (!(reply instanceof HTMLElement)) return false;
  const button = [...reply.querySelectorAll('button')].find((b) => _name(b) === 'Copy');
  if (button && !button.disabled && reply.getAttribute('data-status') !== 'generating') {
    button.click();
    return true;
  }
  _report(status, writeClipboard(_text(reply)));
  return true;
}

/** @param {HTMLButtonElement} button */
const _name = (button) => (button.getAttribute('aria-label') ?? button.textContent ?? '').trim();

/**
 * The reply's text parts as the page shows them (not its thinking, tool calls, buttons, or
 * the headers of its code blocks).
 * @param {HTMLElement} reply
 * @returns {string}
 */
function _text(reply) {
  const parts = [...reply.querySelectorAll('.md, .md-tail')].filter((p) => p instanceof HTMLElement);
  // innerText leaves out what is not rendered: the headers, for as long as it reads.
  const headers = [...reply.querySelectorAll('.codeblock__header')].filter((e) => e instanceof HTMLElement);
  for (const header of headers) header.style.display = 'none';
  try {
    return parts
      .map((p) => p.innerText.trim())
      .filter(Boolean)
      .join('\n\n');
  } finally {
    for (const header of headers) header.style.removeProperty('display');
  }
}

/**
 * The markdown of the newest reply on the conversation's branch (the list sends its HTML
 * only; the message itself has its source).
 * @param {string} conversationId
 * @returns {Promise<string>}
 */
async function _newestReply(conversationId) {
  const page = await api.listMessages(conversationId, { limit: 2 });
  const reply = page.items.filter((m) => m.role === 'assistant').at(-1);
  if (!reply) throw new NoReply();
  const message = await api.getMessage(conversationId, reply.id);
  return message.text ?? '';
}

/**
 * @param {HTMLElement} status
 * @param {Promise<void>} copying
 */
function _report(status, copying) {
  copying.then(
    () => _say(status, 'Copied the last reply.'),
    (error) => {
      if (error instanceof NoReply) {
        _say(status, 'There is no reply to copy yet.');
        return;
      }
      console.warn('parley: could not copy the reply', error);
      _say(status, 'Could not copy the reply.');
    },
  );
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
