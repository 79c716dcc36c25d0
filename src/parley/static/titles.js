// Waiting for a conversation's real title. After the first reply the server titles the
// conversation from its first prompt ("prompt": provisional) and, a moment later, asks
// the model for a short title in the background ("model"). Nothing tells the page when
// that lands, so it asks again for a little while: every 1.5 s, for up to 15 s.

import * as api from './api.js';

/** @typedef {import('./api.js').Conversation} Conversation */

const POLL_MS = 1500;
const GIVE_UP_MS = 15_000;

/** Conversations being waited for: one poll each, however many replies end meanwhile. */
const _waiting = new Set();

/**
 * If the conversation's title is provisional, call `titled` once it is replaced (by the
 * model's, or by the user renaming it elsewhere). Gives up quietly after 15 s: the
 * provisional title is a fine title, and the next reload shows the final one.
 * @param {Conversation} conversation
 * @param {(conversation: Conversation) => void} titled
 */
export function awaitTitle(conversation, titled) {
  if (conversation.title_source !== 'prompt' || _waiting.has(conversation.id)) return;
  _waiting.add(conversation.id);
  void _poll(conversation.id, titled).finally(() => _waiting.delete(conversation.id));
}

/**
 * @param {string} id
 * @param {(conversation: Conversation) => void} titled
 */
async function _poll(id, titled) {
  const deadline = Date.now() + GIVE_UP_MS;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    /** @type {Conversation} */
    let latest;
    try {
      latest = await api.getConversation(id);
    } catch (error) {
      // A 4xx (deleted meanwhile, logged out) will not change by asking again; a network
      // failure or a 5xx may.
      if (error instanceof api.ApiError && error.status < 500) return;
      continue;
    }
    if (latest.title_source !== 'prompt') {
      titled(latest);
      return;
    }
  }
}
