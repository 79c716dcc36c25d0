// Loading a conversation to show it: the conversation and the first page of its current
// branch (the newest page, or the page around a message), and which run, if any, the
// page must follow. No DOM here: chat.js shows what this returns.

import * as api from './api.js';
import { PAGE_AROUND } from './pages.js';

/** @typedef {import('./api.js').Conversation} Conversation */
/** @typedef {import('./api.js').Message} Message */
/** @typedef {import('./api.js').MessagePage} MessagePage */

/**
 * @typedef {object} OpenOptions
 * @property {boolean} [attach]  false after the run turned out to be gone
 * @property {string} [around]   a search hit: show the page around this message, highlighted
 * @property {{id: string, direction: 'previous' | 'next'}} [reveal]  a version just switched
 *   to: keep it in view, and the focus on the switcher
 */

/**
 * @typedef {object} Loaded
 * @property {Conversation} conversation
 * @property {MessagePage} page
 * @property {string | null} problem  why the message asked for is not shown, if it is not
 */

/**
 * @typedef {object} Shown
 * @property {Message[]} items          the saved messages to show
 * @property {string | null} runId      the run to follow, if a reply is being generated
 * @property {Message | null} generating  the saved partial reply, shown if the run cannot be followed
 */

/**
 * The conversation and the first page to show of it. Throws an ApiError 404 if the
 * conversation does not exist.
 * @param {string} id
 * @param {OpenOptions} options
 * @returns {Promise<Loaded>}
 */
export async function loadConversation(id, options) {
  const [conversation, { page, problem }] = await Promise.all([api.getConversation(id), _firstPage(id, options)]);
  return { conversation, page, problem };
}

/**
 * What of a loaded page to show as saved messages, and the run to follow.
 * @param {Loaded} loaded
 * @param {OpenOptions} options
 * @returns {Shown}
 */
export function whatToShow({ conversation, page }, options) {
  // A reply being generated is rebuilt from its run's events (replayed from the
  // start), not from the partial copy saved so far. Only on the newest page: a page
  // in the middle of the branch does not hold it.
  let items = page.items;
  const newest = !page.newer_cursor;
  const last = items.at(-1);
  let runId = options.attach === false || !newest ? null : conversation.active_run_id;
  /** @type {Message | null} */
  let generating = null;
  if (options.attach !== false && newest && last?.role === 'assistant' && last.status === 'generating') {
    runId ??= last.run_id;
    if (runId) {
      generating = last;
      items = items.slice(0, -1);
    }
  }
  return { items, runId, generating };
}

/**
 * The first page to show: the newest, or the one around a message.
 * @param {string} id
 * @param {OpenOptions} options
 * @returns {Promise<{page: MessagePage, problem: string | null}>}
 */
async function _firstPage(id, options) {
  const { around, reveal } = options;
  if (around) {
    try {
      // The page around a message is read from the current branch, and the next prompt
      // continues the current branch: make it the one that holds the message first.
      await api.switchBranch(id, around).catch((/** @type {unknown} */ error) => {
        // 409: a reply is being generated, so the branch cannot change now; the message
        // may be on the current branch anyway.
        if (!(error instanceof api.ApiError && error.status === 409)) throw error;
      });
      return { page: await api.listMessages(id, { around, limit: PAGE_AROUND }), problem: null };
    } catch (error) {
      // The message is gone, or on a branch that cannot be shown now: the conversation
      // still opens (a 404 of the conversation itself comes from the other request).
      if (!(error instanceof api.ApiError && [404, 409, 422].includes(error.status))) throw error;
      return { page: await api.listMessages(id), problem: `Could not show that message. ${error.message}` };
    }
  }
  const page = await api.listMessages(id);
  if (!reveal || page.items.some((m) => m.id === reveal.id)) return { page, problem: null };
  // A version deep in a long conversation: stay where it is rather than jump to the end.
  return { page: await api.listMessages(id, { around: reveal.id, limit: PAGE_AROUND }), problem: null };
}
