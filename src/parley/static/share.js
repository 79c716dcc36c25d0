// The shared page (/s/<id>, written by the server: web/sharepage.py): its one control,
// "Continue in my chats", which copies the snapshot into the viewer's own conversations and
// opens the copy. Everything else on the page is plain HTML that needs no script.
//
// The request is JSON (Content-Type application/json), as every write to Parley must be:
// web/security.py refuses other bodies, which is what keeps cross-site forms out.

import { describeError } from './dom.js';
import { url } from './root.js';

/**
 * @typedef {object} Copied
 * @property {string} id  the viewer's new conversation
 */

/**
 * The server's `detail` sentence of an error answer, or a sentence of our own.
 * @param {Response} response
 * @returns {Promise<string>}
 */
async function _detail(response) {
  try {
    /** @type {unknown} */
    const body = await response.json();
    if (body && typeof body === 'object' && 'detail' in body && typeof body.detail === 'string' && body.detail) {
      return body.detail;
    }
  } catch {
    // not JSON (a proxy's page): the fallback below
  }
  return `The server answered ${response.status}.`;
}

/**
 * Copy the share into the viewer's chats; the new conversation's id.
 * @param {string} shareId
 * @returns {Promise<string>}
 */
async function _continue(shareId) {
  const response = await fetch(url(`/api/shared/${encodeURIComponent(shareId)}/continue`), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: '{}',
    cache: 'no-store',
  });
  if (!response.ok) throw new Error(await _detail(response));
  const copied = /** @type {Copied} */ (await response.json());
  return copied.id;
}

const button = document.getElementById('share-continue');
const status = document.getElementById('share-status');
if (button instanceof HTMLButtonElement && status) {
  button.addEventListener('click', async () => {
    const shareId = button.dataset.share;
    if (!shareId || button.disabled) return;
    button.disabled = true;
    status.textContent = 'Copying…';
    try {
      const id = await _continue(shareId);
      status.textContent = 'Opening your copy…';
      location.assign(url(`/c/${encodeURIComponent(id)}`));
    } catch (error) {
      status.textContent = describeError(error);
      button.disabled = false;
    }
  });
}
