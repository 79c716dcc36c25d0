// The conversation list: most recently active first, paged with "Load more", each item
// with open / rename (inline input) / delete (inline confirm).

import * as api from './api.js';
import { describeError, h, icon } from './dom.js';

/** @typedef {import('./api.js').Conversation} Conversation */

/**
 * @typedef {object} SidebarElements
 * @property {HTMLUListElement} list
 * @property {HTMLButtonElement} more     "Load more"
 * @property {HTMLElement} empty          shown when there are no conversations
 * @property {HTMLElement} error          a line for failures (role="alert")
 * @property {HTMLButtonElement} newChat  where focus goes when the list empties
 */

/**
 * @typedef {object} SidebarHooks
 * @property {(id: string) => void} open                     the user picked a conversation
 * @property {(conversation: Conversation) => void} renamed
 * @property {(id: string) => void} deleted
 */

/** @param {Conversation} conversation */
const _title = (conversation) => conversation.title || 'Untitled';

export class Sidebar {
  /**
   * @param {SidebarElements} elements
   * @param {SidebarHooks} hooks
   */
  constructor(elements, hooks) {
    this._el = elements;
    this._hooks = hooks;
    /** @type {Conversation[]} in display order */
    this._items = [];
    /** @type {string | null} */
    this._cursor = null;
    /** @type {string | null} */
    this._activeId = null;
    /** An item is being renamed or confirmed: drawing now would throw that away. */
    this._editing = false;
    /** Only the newest refresh may render (answers can arrive out of order). */
    this._refreshes = 0;
    elements.more.addEventListener('click', () => void this._loadMore());
  }

  /** Reload the first page (after a reply, the order and titles may have changed). */
  async refresh() {
    const serial = ++this._refreshes;
    try {
      const page = await api.listConversations();
      if (serial !== this._refreshes) return;
      this._items = page.items;
      this._cursor = page.next_cursor;
      this._showError(null);
      this._render();
    } catch (error) {
      if (serial === this._refreshes) this._showError(`Could not load conversations. ${describeError(error)}`);
    }
  }

  /**
   * Put a conversation at the top (it was just created or just active).
   * @param {Conversation} conversation
   */
  prepend(conversation) {
    this._items = [conversation, ...this._items.filter((c) => c.id !== conversation.id)];
    this._render();
  }

  /**
   * Update a conversation's title in place, if it is listed.
   * @param {Conversation} conversation
   */
  update(conversation) {
    const index = this._items.findIndex((c) => c.id === conversation.id);
    if (index === -1) return;
    this._items[index] = conversation;
    this._render();
  }

  /** @param {string | null} id  the open conversation */
  setActive(id) {
    this._activeId = id;
    for (const button of this._el.list.querySelectorAll('.conv__open')) {
      const current = button.closest('li')?.getAttribute('data-id') === id;
      if (current) button.setAttribute('aria-current', 'page');
      else button.removeAttribute('aria-current');
    }
  }

  async _loadMore() {
    const { more } = this._el;
    if (!this._cursor) return;
    more.disabled = true;
    try {
      const page = await api.listConversations(this._cursor);
      // Activity reorders the list between pages, so an item may come twice.
      const known = new Set(this._items.map((c) => c.id));
      this._items.push(...page.items.filter((c) => !known.has(c.id)));
      this._cursor = page.next_cursor;
      this._render();
      this._showError(null);
    } catch (error) {
      this._showError(`Could not load more conversations. ${describeError(error)}`);
    } finally {
      more.disabled = false;
    }
  }

  /** Draw the whole list, keeping the keyboard focus where it was (later, if editing). */
  _render() {
    if (this._editing) return; // _endEdit draws
    const { list, more, empty } = this._el;
    const focused = document.activeElement;
    const focusKey = focused instanceof HTMLElement && list.contains(focused) ? _focusKey(focused) : null;
    list.replaceChildren(...this._items.map((c) => this._item(c)));
    more.hidden = !this._cursor;
    empty.hidden = this._items.length > 0;
    const target = focusKey ? list.querySelector(focusKey) : null;
    if (target instanceof HTMLElement) target.focus();
  }

  /**
   * @param {Conversation} conversation
   * @returns {HTMLLIElement}
   */
  _item(conversation) {
    const title = _title(conversation);
    const open = h(
      'button',
      { type: 'button', class: 'conv__open', title, 'aria-current': conversation.id === this._activeId ? 'page' : undefined },
      title,
    );
    open.addEventListener('click', () => this._hooks.open(conversation.id));
    const rename = h('button', { type: 'button', class: 'conv__action conv__rename', 'aria-label': `Rename ${title}`, title: 'Rename' }, icon('pencil'));
    rename.addEventListener('click', () => this._startRename(item, conversation));
    const remove = h('button', { type: 'button', class: 'conv__action conv__delete', 'aria-label': `Delete ${title}`, title: 'Delete' }, icon('trash'));
    remove.addEventListener('click', () => this._confirmDelete(item, conversation));
    const item = h('li', { class: 'conv', 'data-id': conversation.id }, open, h('div', { class: 'conv__actions' }, rename, remove));
    return item;
  }

  /**
   * Swap the item for a text input: Enter saves, Escape cancels, leaving it saves.
   * @param {HTMLLIElement} item
   * @param {Conversation} conversation
   */
  _startRename(item, conversation) {
    const title = _title(conversation);
    const input = h('input', { type: 'text', class: 'conv__input', 'aria-label': `New title for ${title}`, maxlength: '200' });
    input.value = conversation.title ?? '';
    let finished = false;
    /** @param {boolean} save */
    const finish = async (save) => {
      if (finished) return;
      finished = true;
      const value = input.value.trim();
      if (save && value && value !== conversation.title) {
        input.disabled = true;
        try {
          const renamed = await api.renameConversation(conversation.id, value);
          this._items = this._items.map((c) => (c.id === renamed.id ? renamed : c));
          this._hooks.renamed(renamed);
          this._showError(null);
        } catch (error) {
          this._showError(`Could not rename. ${describeError(error)}`);
        }
      }
      this._endEdit(conversation.id, save ? '.conv__open' : '.conv__rename');
    };
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') {
        event.preventDefault();
        void finish(true);
      } else if (event.key === 'Escape') {
        event.preventDefault();
        event.stopPropagation(); // Escape here cancels the rename, nothing else
        void finish(false);
      }
    });
    input.addEventListener('blur', () => void finish(true));
    this._editing = true;
    item.classList.add('conv--editing');
    item.replaceChildren(input);
    input.focus();
    input.select();
  }

  /**
   * Swap the item for "Delete “title”? [Yes, delete] [Cancel]".
   * @param {HTMLLIElement} item
   * @param {Conversation} conversation
   */
  _confirmDelete(item, conversation) {
    const title = _title(conversation);
    const yes = h('button', { type: 'button', class: 'btn btn--small btn--danger' }, 'Yes, delete');
    const no = h('button', { type: 'button', class: 'btn btn--small' }, 'Cancel');
    const question = h('p', { class: 'conv__question' }, `Delete “${title}”?`);
    yes.addEventListener('click', () => void this._delete(conversation.id, yes, no));
    no.addEventListener('click', () => this._endEdit(conversation.id, '.conv__delete'));
    item.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape' || !item.classList.contains('conv--confirm')) return;
      event.stopPropagation();
      this._endEdit(conversation.id, '.conv__delete');
    });
    this._editing = true;
    item.classList.add('conv--confirm');
    item.replaceChildren(question, h('div', { class: 'conv__confirm' }, yes, no));
    no.focus(); // the safe choice is the default
  }

  /**
   * @param {string} id
   * @param {HTMLButtonElement} yes
   * @param {HTMLButtonElement} no
   */
  async _delete(id, yes, no) {
    yes.disabled = no.disabled = true;
    try {
      await api.deleteConversation(id);
    } catch (error) {
      this._showError(`Could not delete. ${describeError(error)}`);
      this._endEdit(id, '.conv__delete');
      return;
    }
    const index = this._items.findIndex((c) => c.id === id);
    this._items = this._items.filter((c) => c.id !== id);
    const neighbour = this._items[Math.min(index, this._items.length - 1)];
    this._editing = false;
    this._render();
    this._showError(null);
    if (id !== this._activeId) {
      // (Deleting the open conversation sends focus to New chat: the app does that.)
      const next = neighbour && this._el.list.querySelector(`li[data-id="${CSS.escape(neighbour.id)}"] .conv__open`);
      if (next instanceof HTMLElement) next.focus();
      else this._el.newChat.focus();
    }
    this._hooks.deleted(id);
  }

  /**
   * Leave rename/confirm mode and focus a control of the restored item.
   * @param {string} id
   * @param {string} focusSelector
   */
  _endEdit(id, focusSelector) {
    this._editing = false;
    this._render();
    const target = this._el.list.querySelector(`li[data-id="${CSS.escape(id)}"] ${focusSelector}`);
    if (target instanceof HTMLElement) target.focus();
  }

  /** @param {string | null} text */
  _showError(text) {
    this._el.error.textContent = text ?? '';
    this._el.error.hidden = text === null;
  }
}

/**
 * A selector that finds the same control again after the list is redrawn:
 * `li[data-id="…"] .conv__open`.
 * @param {HTMLElement} control
 * @returns {string | null}
 */
function _focusKey(control) {
  const id = control.closest('li')?.getAttribute('data-id');
  const kind = ['conv__open', 'conv__rename', 'conv__delete'].find((c) => control.classList.contains(c));
  return id && kind ? `li[data-id="${CSS.escape(id)}"] .${kind}` : null;
}
