// The search dialog (Ctrl+K / ⌘K, or the Search button): a combobox whose options are the
// conversations found and their hits, usable with the keyboard alone. The focus stays in
// the input; ArrowDown/ArrowUp move the active option (aria-activedescendant), Enter
// opens it, Esc closes the dialog and gives the focus back to where it was.

import { h } from './dom.js';
import { hitRole, markedText, SearchQuery } from './search.js';

/** @typedef {import('./api.js').SearchResult} SearchResult */

/**
 * @typedef {object} SearchDialogElements
 * @property {HTMLDialogElement} dialog
 * @property {HTMLInputElement} input     role=combobox
 * @property {HTMLElement} listbox        role=listbox
 * @property {HTMLElement} status         "3 conversations found" (role="status")
 * @property {HTMLElement} error          a refused query's reason (role="alert")
 * @property {HTMLButtonElement} close
 */

/**
 * @typedef {object} Option
 * @property {HTMLElement} element
 * @property {string} conversationId
 * @property {string | null} messageId  null: open the conversation itself
 */

export class SearchDialog {
  /**
   * @param {SearchDialogElements} elements
   * @param {{open: (conversationId: string, messageId: string | null) => void}} hooks
   */
  constructor(elements, hooks) {
    this._el = elements;
    this._hooks = hooks;
    /** @type {Option[]} */
    this._options = [];
    this._active = -1;
    /** @type {HTMLElement | null} */
    this._opener = null;
    /** An option is being opened: the focus goes there, not back to the opener. */
    this._opening = false;
    this._query = new SearchQuery({
      results: (results) => this._show(results),
      failed: (detail) => this._fail(detail),
      cleared: () => this._show(null),
      pending: () => elements.listbox.setAttribute('aria-busy', 'true'),
    });
    const { dialog, input, close, listbox } = elements;
    input.addEventListener('input', () => this._query.set(input.value));
    input.addEventListener('keydown', (event) => this._key(event));
    close.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => this._closed());
    listbox.addEventListener('click', (event) => {
      const target = event.target instanceof Element ? event.target.closest('[role="option"]') : null;
      const index = this._options.findIndex((o) => o.element === target);
      if (index !== -1) this._choose(index);
    });
  }

  /** @param {HTMLElement} opener  gets the focus back when the dialog closes */
  open(opener) {
    const { dialog, input } = this._el;
    if (dialog.open) return;
    this._opener = opener;
    this._opening = false;
    dialog.showModal();
    input.focus();
    input.select(); // the last query, ready to be typed over
    if (input.value.trim()) this._query.set(input.value); // its results may have changed
  }

  /** @param {KeyboardEvent} event */
  _key(event) {
    const count = this._options.length;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault(); // not the caret
      if (!count) return;
      const step = event.key === 'ArrowDown' ? 1 : -1;
      this._setActive(this._active === -1 ? (step > 0 ? 0 : count - 1) : Math.min(count - 1, Math.max(0, this._active + step)));
    } else if (event.key === 'Enter' && !event.isComposing) {
      event.preventDefault();
      if (count) this._choose(this._active === -1 ? 0 : this._active);
    }
  }

  /** @param {number} index */
  _setActive(index) {
    const { input } = this._el;
    this._options[this._active]?.element.setAttribute('aria-selected', 'false');
    this._active = index;
    const option = this._options[index];
    if (!option) {
      input.removeAttribute('aria-activedescendant');
      return;
    }
    option.element.setAttribute('aria-selected', 'true');
    input.setAttribute('aria-activedescendant', option.element.id);
    option.element.scrollIntoView({ block: 'nearest' });
  }

  /** @param {number} index */
  _choose(index) {
    const option = this._options[index];
    if (!option) return;
    this._opening = true;
    this._el.dialog.close();
    this._hooks.open(option.conversationId, option.messageId);
  }

  /**
   * One group per conversation: its title, then its hits.
   * @param {SearchResult[] | null} results  null: the query is empty
   */
  _show(results) {
    const { listbox, input, status, error } = this._el;
    listbox.removeAttribute('aria-busy');
    error.hidden = true;
    // Answers to a query typed a moment ago can arrive after the user has moved to an
    // option: the same option stays active if it is still there.
    const kept = this._options[this._active];
    this._options = [];
    this._active = -1;
    input.removeAttribute('aria-activedescendant');
    const groups = (results ?? []).map((result, n) => this._group(result, n));
    listbox.replaceChildren(...groups);
    input.setAttribute('aria-expanded', String(this._options.length > 0));
    if (kept) {
      const same = this._options.findIndex(
        (o) => o.conversationId === kept.conversationId && o.messageId === kept.messageId,
      );
      if (same !== -1) this._setActive(same);
    }
    const count = results?.length ?? 0;
    status.textContent =
      results === null ? '' : count === 0 ? 'No conversations match.' : `${count} conversation${count === 1 ? '' : 's'} found.`;
  }

  /**
   * @param {SearchResult} result
   * @param {number} n
   * @returns {HTMLElement}
   */
  _group(result, n) {
    const { conversation } = result;
    const titleId = `search-option-${n}`;
    const title = this._option(titleId, 'option option--title', conversation.id, null, markedText(result.title_html || 'Untitled'));
    if (conversation.archived) title.append(h('span', { class: 'result__badge' }, 'Archived'));
    const hits = result.hits.map((hit, i) =>
      this._option(
        `${titleId}-${i}`,
        'option option--hit',
        conversation.id,
        hit.message_id,
        h('span', { class: 'result__role' }, `${hitRole(hit)}: `),
        markedText(hit.snippet_html),
      ),
    );
    return h('div', { role: 'group', class: 'option-group', 'aria-labelledby': titleId }, title, ...hits);
  }

  /**
   * @param {string} id
   * @param {string} className
   * @param {string} conversationId
   * @param {string | null} messageId
   * @param {...(Node | string)} content
   * @returns {HTMLElement}
   */
  _option(id, className, conversationId, messageId, ...content) {
    const element = h('div', { role: 'option', id, class: className, 'aria-selected': 'false' }, ...content);
    this._options.push({ element, conversationId, messageId });
    return element;
  }

  /** @param {string} detail */
  _fail(detail) {
    const { error } = this._el;
    this._show(null);
    error.textContent = detail;
    error.hidden = false;
  }

  _closed() {
    this._query.cancel();
    this._el.listbox.removeAttribute('aria-busy');
    if (!this._opening) this._opener?.focus();
    this._opener = null;
  }
}
