// Searching the user's conversations (titles and message text), for the sidebar's search
// box and the Ctrl+K dialog (searchdialog.js): a query that waits for a pause in typing
// and keeps only the newest answer, the server's highlighted text turned into nodes, and
// the sidebar's results, shown instead of the list while the box has text.

import * as api from './api.js';
import { describeError, h } from './dom.js';

/** @typedef {import('./api.js').SearchResult} SearchResult */
/** @typedef {import('./api.js').SearchHit} SearchHit */

/** Typing pauses this long (ms) before a query is sent: one request per pause, not per key. */
const DEBOUNCE_MS = 150;

/**
 * @typedef {object} SearchHooks
 * @property {(results: SearchResult[]) => void} results  the answer to the newest query
 * @property {(detail: string) => void} failed  it failed (a 422 says why the query is refused)
 * @property {() => void} cleared               the query is empty
 * @property {() => void} [pending]             a query is on its way
 */

export class SearchQuery {
  /** @param {SearchHooks} hooks */
  constructor(hooks) {
    this._hooks = hooks;
    /** Bumped by every change: an answer to an older query is dropped (they can cross). */
    this._serial = 0;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this._timer = undefined;
    /** @type {AbortController | null} */
    this._abort = null;
  }

  /**
   * The text changed: search it after a pause (or clear the results at once).
   * @param {string} text
   */
  set(text) {
    this.cancel();
    const query = text.trim();
    if (!query) {
      this._hooks.cleared();
      return;
    }
    const serial = this._serial;
    this._timer = setTimeout(() => void this._run(query, serial), DEBOUNCE_MS);
  }

  /** Forget any query waiting or on its way. */
  cancel() {
    this._serial++;
    clearTimeout(this._timer);
    this._abort?.abort();
    this._abort = null;
  }

  /**
   * @param {string} query
   * @param {number} serial
   */
  async _run(query, serial) {
    const abort = new AbortController();
    this._abort = abort;
    this._hooks.pending?.();
    try {
      const page = await api.search(query, { signal: abort.signal });
      if (serial === this._serial) this._hooks.results(page.items);
    } catch (error) {
      if (serial === this._serial && !abort.signal.aborted) this._hooks.failed(describeError(error));
    }
  }
}

/**
 * The server's highlighted text as nodes. The server escapes the text and adds only
 * <mark>…</mark>, so it could go to innerHTML as is; it is parsed into an inert document
 * instead (nothing there loads or runs) and only its text and <mark> elements are
 * copied, so that a server bug could not put any other markup in the page.
 * @param {string} html
 * @returns {DocumentFragment}
 */
export function markedText(html) {
  const parsed = new DOMParser().parseFromString(`<body>${html}</body>`, 'text/html');
  const fragment = document.createDocumentFragment();
  /**
   * @param {Node} from
   * @param {Node} to
   */
  const copy = (from, to) => {
    for (const node of from.childNodes) {
      if (node.nodeType === Node.TEXT_NODE) to.appendChild(document.createTextNode(node.textContent ?? ''));
      else if (node.nodeName === 'MARK') copy(node, to.appendChild(document.createElement('mark')));
      else copy(node, to);
    }
  };
  copy(parsed.body, fragment);
  return fragment;
}

/**
 * @param {SearchHit} hit
 * @returns {string}
 */
export const hitRole = (hit) => (hit.role === 'user' ? 'You' : 'Assistant');

/**
 * @typedef {object} SearchBoxElements
 * @property {HTMLInputElement} input     type=search, "Search conversations"
 * @property {HTMLElement} browse         the list, hidden while there are results to show
 * @property {HTMLElement} panel          holds the results
 * @property {HTMLUListElement} results
 * @property {HTMLElement} status         "3 conversations found" (role="status")
 * @property {HTMLElement} error          a refused query's reason (role="alert")
 */

/** The sidebar's search box: its results replace the list while it has text. */
export class SearchBox {
  /**
   * @param {SearchBoxElements} elements
   * @param {{open: (conversationId: string, messageId: string | null) => void}} hooks
   */
  constructor(elements, hooks) {
    this._el = elements;
    this._hooks = hooks;
    this._query = new SearchQuery({
      results: (results) => this._show(results),
      failed: (detail) => this._fail(detail),
      cleared: () => this._clear(),
      pending: () => elements.panel.setAttribute('aria-busy', 'true'),
    });
    const { input, results } = elements;
    input.addEventListener('input', () => {
      const searching = input.value.trim() !== '';
      elements.browse.hidden = searching;
      elements.panel.hidden = !searching;
      this._query.set(input.value);
    });
    input.addEventListener('keydown', (event) => {
      if (event.key === 'ArrowDown') {
        // From the box straight to the first result.
        const first = results.querySelector('button');
        if (first) {
          event.preventDefault();
          first.focus();
        }
      } else if (event.key === 'Escape' && input.value) {
        event.preventDefault();
        event.stopPropagation(); // Esc here empties the box, nothing else
        input.value = '';
        input.dispatchEvent(new Event('input'));
      }
    });
  }

  /** @param {SearchResult[]} results */
  _show(results) {
    const { panel, status, error } = this._el;
    panel.removeAttribute('aria-busy');
    error.hidden = true;
    this._el.results.replaceChildren(...results.map((result) => this._result(result)));
    const n = results.length;
    status.textContent = n === 0 ? 'No conversations match.' : `${n} conversation${n === 1 ? '' : 's'} found.`;
  }

  /** @param {string} detail */
  _fail(detail) {
    const { panel, status, error, results } = this._el;
    panel.removeAttribute('aria-busy');
    results.replaceChildren();
    status.textContent = '';
    error.textContent = detail;
    error.hidden = false;
  }

  _clear() {
    const { panel, status, error, results } = this._el;
    panel.removeAttribute('aria-busy');
    results.replaceChildren();
    status.textContent = '';
    error.hidden = true;
  }

  /**
   * A conversation found: its title (opens it), and its hits (each opens it at the message).
   * @param {SearchResult} result
   * @returns {HTMLLIElement}
   */
  _result(result) {
    const { conversation } = result;
    const title = h('button', { type: 'button', class: 'result__title' }, markedText(result.title_html || 'Untitled'));
    if (conversation.archived) title.append(h('span', { class: 'result__badge' }, 'Archived'));
    title.addEventListener('click', () => this._hooks.open(conversation.id, null));
    const item = h('li', { class: 'result', 'data-id': conversation.id }, title);
    if (result.hits.length) {
      const hits = result.hits.map((hit) => {
        const button = h(
          'button',
          { type: 'button', class: 'result__hit', 'data-message-id': hit.message_id },
          h('span', { class: 'result__role' }, `${hitRole(hit)}: `),
          markedText(hit.snippet_html),
        );
        button.addEventListener('click', () => this._hooks.open(conversation.id, hit.message_id));
        return h('li', {}, button);
      });
      item.append(h('ul', { class: 'result__hits' }, ...hits));
    }
    return item;
  }
}
