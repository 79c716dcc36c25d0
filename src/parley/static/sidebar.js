// The conversation list: pinned ones first (with a pin mark), then the most recently
// active, paged with "Load more"; or, behind "Show archived", the archive. Each item has
// open, Pin/Unpin, Archive/Unarchive, Rename (an inline input) and Delete (asked in a
// dialog). Searching is search.js's: while the search box has text it hides this list.

import * as api from './api.js';
import { confirmAction } from './dialogs.js';
import { describeError, h, icon } from './dom.js';

/** @typedef {import('./api.js').Conversation} Conversation */

/**
 * @typedef {object} SidebarElements
 * @property {HTMLUListElement} list
 * @property {HTMLButtonElement} more     "Load more"
 * @property {HTMLElement} empty          shown when there are no conversations
 * @property {HTMLElement} error          a line for failures (role="alert")
 * @property {HTMLElement} status         what an action did, for screen readers (role="status")
 * @property {HTMLButtonElement} newChat  where focus goes when the list empties
 * @property {HTMLButtonElement} archive  "Show archived" / "Show conversations"
 * @property {HTMLElement} heading        "Archived", shown over the archive
 */

/**
 * @typedef {object} SidebarHooks
 * @property {(id: string) => void} open                     the user picked a conversation
 * @property {(conversation: Conversation) => void} renamed
 * @property {(id: string) => void} deleted
 */

/** @param {Conversation} conversation */
const _title = (conversation) => conversation.title || 'Untitled';

/** The controls of an item, as classes: how the focus finds its control after a redraw. */
const CONTROLS = ['conv__open', 'conv__pin', 'conv__archive', 'conv__rename', 'conv__delete'];

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
    /** The archive is listed instead of the conversations. */
    this._archived = false;
    /** An item is being renamed: drawing now would throw the input away. */
    this._editing = false;
    /** Only the newest refresh may render (answers can arrive out of order). */
    this._refreshes = 0;
    elements.more.addEventListener('click', () => void this._loadMore());
    elements.archive.addEventListener('click', () => this._showArchive(!this._archived));
  }

  /** Reload the first page (after a reply, the order and titles may have changed). */
  async refresh() {
    const serial = ++this._refreshes;
    try {
      const page = await api.listConversations(null, { archived: this._archived });
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
   * Put a conversation at the top, below the pinned ones (it was just created or just
   * active). A new conversation is not archived: leave the archive to show it.
   * @param {Conversation} conversation
   */
  prepend(conversation) {
    if (this._archived && !conversation.archived) {
      this._showArchive(false);
      return;
    }
    const others = this._items.filter((c) => c.id !== conversation.id);
    const at = conversation.pinned ? 0 : others.findIndex((c) => !c.pinned);
    others.splice(at === -1 ? others.length : at, 0, conversation);
    this._items = others;
    this._render();
  }

  /**
   * Update a listed conversation in place (its title changed).
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

  /**
   * The conversation listed next to the open one, for Alt+↑ / Alt+↓: `step` -1 the one
   * above, 1 the one below; null past either end. With none open (a new chat), going down
   * starts at the top. Only the pages loaded so far count.
   * @param {-1 | 1} step
   * @returns {string | null}
   */
  neighbour(step) {
    const index = this._items.findIndex((c) => c.id === this._activeId);
    const next = index === -1 ? (step > 0 ? 0 : -1) : index + step;
    return this._items[next]?.id ?? null;
  }

  /**
   * Switch between the conversations and the archive.
   * @param {boolean} archived
   */
  _showArchive(archived) {
    const { archive, heading, empty } = this._el;
    this._archived = archived;
    this._editing = false;
    this._items = [];
    this._cursor = null;
    archive.textContent = archived ? 'Show conversations' : 'Show archived';
    heading.hidden = !archived;
    empty.textContent = archived ? 'No archived conversations.' : 'No conversations yet.';
    this._render();
    empty.hidden = true; // until the list has loaded
    void this.refresh();
  }

  async _loadMore() {
    const { more } = this._el;
    if (!this._cursor) return;
    const serial = this._refreshes;
    more.disabled = true;
    try {
      const page = await api.listConversations(this._cursor, { archived: this._archived });
      if (serial !== this._refreshes) return; // the list was reloaded (or switched) meanwhile
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
    const actions = h('div', { class: 'conv__actions' });
    if (!this._archived) {
      const pinned = conversation.pinned;
      actions.append(
        this._action(pinned ? 'unpin' : 'pin', `${pinned ? 'Unpin' : 'Pin'} ${title}`, pinned ? 'Unpin' : 'Pin', 'conv__pin', () =>
          void this._setPinned(conversation, !pinned)),
      );
    }
    const archived = conversation.archived;
    actions.append(
      this._action(archived ? 'unarchive' : 'archive', `${archived ? 'Unarchive' : 'Archive'} ${title}`, archived ? 'Unarchive' : 'Archive', 'conv__archive', () =>
        void this._setArchived(conversation, !archived)),
      this._action('pencil', `Rename ${title}`, 'Rename', 'conv__rename', () => this._startRename(item, conversation)),
      this._action('trash', `Delete ${title}`, 'Delete', 'conv__delete', () => void this._delete(conversation)),
    );
    const item = h('li', { class: 'conv', 'data-id': conversation.id, 'data-pinned': conversation.pinned || undefined });
    if (conversation.pinned) item.append(_pinMark());
    item.append(open, actions);
    return item;
  }

  /**
   * An icon button named by its aria-label (which says which conversation it acts on).
   * @param {Parameters<typeof icon>[0]} iconName
   * @param {string} label
   * @param {string} tooltip
   * @param {string} className
   * @param {() => void} onClick
   * @returns {HTMLButtonElement}
   */
  _action(iconName, label, tooltip, className, onClick) {
    const button = h('button', { type: 'button', class: `conv__action ${className}`, 'aria-label': label, title: tooltip }, icon(iconName));
    button.addEventListener('click', onClick);
    return button;
  }

  /**
   * @param {Conversation} conversation
   * @param {boolean} pinned
   */
  async _setPinned(conversation, pinned) {
    try {
      const updated = await api.setPinned(conversation.id, pinned);
      // Pinned ones first, then as the server ordered them; the refresh then settles it.
      const rest = this._items.filter((c) => c.id !== updated.id);
      rest.splice(pinned ? 0 : rest.filter((c) => c.pinned).length, 0, updated);
      this._items = rest;
      this._render();
      this._say(`${pinned ? 'Pinned' : 'Unpinned'} “${_title(updated)}”.`);
      void this.refresh();
    } catch (error) {
      this._showError(`Could not ${pinned ? 'pin' : 'unpin'}. ${describeError(error)}`);
    }
  }

  /**
   * Archive (or restore) a conversation: it leaves the list shown, and the focus goes to
   * its neighbour.
   * @param {Conversation} conversation
   * @param {boolean} archived
   */
  async _setArchived(conversation, archived) {
    try {
      await api.setArchived(conversation.id, archived);
    } catch (error) {
      this._showError(`Could not ${archived ? 'archive' : 'unarchive'}. ${describeError(error)}`);
      return;
    }
    this._removeItem(conversation.id, true);
    this._say(`${archived ? 'Archived' : 'Restored'} “${_title(conversation)}”.`);
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
   * Ask in a dialog, then delete. Cancel leaves everything as it was, the focus back on
   * the Delete button.
   * @param {Conversation} conversation
   */
  async _delete(conversation) {
    const title = _title(conversation);
    const yes = await confirmAction({
      title: 'Delete conversation?',
      text: `“${title}” and all its messages will be deleted. This cannot be undone.`,
      confirm: 'Delete',
    });
    if (!yes) {
      this._focus(conversation.id, '.conv__delete'); // if the list was redrawn meanwhile
      return;
    }
    try {
      await api.deleteConversation(conversation.id);
    } catch (error) {
      this._showError(`Could not delete. ${describeError(error)}`);
      this._focus(conversation.id, '.conv__delete');
      return;
    }
    // Deleting the open conversation sends the focus to New chat: the app does that.
    this._removeItem(conversation.id, conversation.id !== this._activeId);
    this._say(`Deleted “${title}”.`);
    this._hooks.deleted(conversation.id);
  }

  /**
   * Take an item out of the list (deleted, archived, restored) and give the focus to its
   * neighbour, or to New chat when the list is empty.
   * @param {string} id
   * @param {boolean} moveFocus
   */
  _removeItem(id, moveFocus) {
    const index = this._items.findIndex((c) => c.id === id);
    this._items = this._items.filter((c) => c.id !== id);
    const neighbour = this._items[Math.min(index, this._items.length - 1)];
    this._render();
    this._showError(null);
    if (!moveFocus) return;
    if (!neighbour || !this._focus(neighbour.id, '.conv__open')) this._el.newChat.focus();
  }

  /**
   * Leave rename mode and focus a control of the restored item.
   * @param {string} id
   * @param {string} focusSelector
   */
  _endEdit(id, focusSelector) {
    this._editing = false;
    this._render();
    this._focus(id, focusSelector);
  }

  /**
   * @param {string} id
   * @param {string} selector  a control of the item
   * @returns {boolean} whether it was found
   */
  _focus(id, selector) {
    const target = this._el.list.querySelector(`li[data-id="${CSS.escape(id)}"] ${selector}`);
    if (target instanceof HTMLElement) target.focus();
    return target instanceof HTMLElement;
  }

  /** @param {string | null} text */
  _showError(text) {
    this._el.error.textContent = text ?? '';
    this._el.error.hidden = text === null;
  }

  /** @param {string} text  said by screen readers; what it says is also seen in the list */
  _say(text) {
    this._el.status.textContent = text;
  }
}

/** @returns {SVGSVGElement} the mark of a pinned conversation, named for screen readers */
function _pinMark() {
  const mark = icon('pin');
  mark.classList.add('conv__pinned');
  mark.removeAttribute('aria-hidden');
  mark.setAttribute('role', 'img');
  mark.setAttribute('aria-label', 'Pinned');
  return mark;
}

/**
 * A selector that finds the same control again after the list is redrawn:
 * `li[data-id="…"] .conv__open`.
 * @param {HTMLElement} control
 * @returns {string | null}
 */
function _focusKey(control) {
  const id = control.closest('li')?.getAttribute('data-id');
  const kind = CONTROLS.find((c) => control.classList.contains(c));
  return id && kind ? `li[data-id="${CSS.escape(id)}"] .${kind}` : null;
}
