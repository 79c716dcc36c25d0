// Start-up and wiring: finds the page's elements, connects the sidebar, the search box
// and dialog, the chat and the composer, keeps the URL (/c/<id>) in step with the open
// conversation, opens the conversation settings, shows the account controls in accounts
// mode, and owns the keyboard shortcuts (Esc, Ctrl+K / ⌘K) and the narrow-screen sidebar
// toggle.

import { Account } from './account.js';
import * as api from './api.js';
import { Chat } from './chat.js';
import { Composer } from './composer.js';
import { byId } from './dom.js';
import { ConversationHeader } from './header.js';
import { SearchBox } from './search.js';
import { SearchDialog } from './searchdialog.js';
import { SettingsDialog } from './settingsdialog.js';
import { Sidebar } from './sidebar.js';
import { TokensDialog } from './tokens.js';

const app = byId('app', HTMLElement);
const newChat = byId('new-chat', HTMLButtonElement);
const searchOpen = byId('search-open', HTMLButtonElement);
const toggle = byId('sidebar-toggle', HTMLButtonElement);
const backdrop = byId('backdrop', HTMLElement);
const settingsOpen = byId('settings-open', HTMLButtonElement);
const modelNotice = byId('model-notice', HTMLElement);
const prompt = byId('prompt', HTMLTextAreaElement);
const narrow = window.matchMedia('(max-width: 700px)');

const composer = new Composer(
  { form: byId('composer', HTMLFormElement), prompt, counter: byId('counter', HTMLElement) },
  { submit: (text) => void chat.send(text), busy: () => chat.busy },
);

const header = new ConversationHeader({
  model: byId('model-name', HTMLElement),
  usage: byId('conversation-usage', HTMLElement),
  settings: settingsOpen,
});

const chat = new Chat(
  {
    log: byId('log', HTMLElement),
    empty: byId('empty', HTMLElement),
    title: byId('conversation-title', HTMLElement),
    prompt,
    send: byId('send', HTMLButtonElement),
    stop: byId('stop', HTMLButtonElement),
  },
  {
    created(conversation) {
      history.pushState(null, '', _path(conversation.id));
      sidebar.prepend(conversation);
      sidebar.setActive(conversation.id);
    },
    changed() {
      void sidebar.refresh();
    },
    titled(conversation) {
      sidebar.update(conversation);
    },
    forked(conversation) {
      sidebar.prepend(conversation);
      _show(conversation.id, true);
    },
    missing() {
      history.replaceState(null, '', '/');
      sidebar.setActive(null);
      void sidebar.refresh();
    },
  },
  header,
);

const sidebar = new Sidebar(
  {
    list: byId('conversation-list', HTMLUListElement),
    more: byId('load-more', HTMLButtonElement),
    empty: byId('sidebar-empty', HTMLElement),
    error: byId('sidebar-error', HTMLElement),
    status: byId('sidebar-status', HTMLElement),
    newChat,
    archive: byId('archive-toggle', HTMLButtonElement),
    heading: byId('archive-heading', HTMLElement),
  },
  {
    open(id) {
      if (id === chat.conversationId) {
        _setSidebarOpen(false);
        composer.focus();
      } else {
        _show(id, true);
      }
    },
    renamed(conversation) {
      chat.updated(conversation);
    },
    deleted(id) {
      if (id !== chat.conversationId) return;
      _show(null, true);
      newChat.focus();
    },
  },
);

new SearchBox(
  {
    input: byId('sidebar-search', HTMLInputElement),
    browse: byId('sidebar-browse', HTMLElement),
    panel: byId('sidebar-results', HTMLElement),
    results: byId('search-results', HTMLUListElement),
    status: byId('sidebar-search-status', HTMLElement),
    error: byId('sidebar-search-error', HTMLElement),
  },
  { open: _showHit },
);

const searchDialog = new SearchDialog(
  {
    dialog: byId('search-dialog', HTMLDialogElement),
    input: byId('search-input', HTMLInputElement),
    listbox: byId('search-listbox', HTMLElement),
    status: byId('search-status', HTMLElement),
    error: byId('search-error', HTMLElement),
    close: byId('search-close', HTMLButtonElement),
  },
  { open: _showHit },
);

const settingsDialog = new SettingsDialog(
  {
    dialog: byId('settings-dialog', HTMLDialogElement),
    form: byId('settings-form', HTMLFormElement),
    model: byId('settings-model', HTMLSelectElement),
    modelHint: byId('settings-model-hint', HTMLElement),
    instructions: byId('settings-instructions', HTMLTextAreaElement),
    error: byId('settings-error', HTMLElement),
    cancel: byId('settings-cancel', HTMLButtonElement),
    save: byId('settings-save', HTMLButtonElement),
  },
  {
    saved(conversation) {
      chat.updated(conversation);
    },
  },
);

const account = new Account(
  {
    root: byId('account', HTMLElement),
    name: byId('account-name', HTMLElement),
    tokens: byId('tokens-open', HTMLButtonElement),
    logout: byId('logout', HTMLButtonElement),
    error: byId('account-error', HTMLElement),
  },
  new TokensDialog({
    dialog: byId('tokens-dialog', HTMLDialogElement),
    close: byId('tokens-close', HTMLButtonElement),
    error: byId('tokens-error', HTMLElement),
    status: byId('tokens-status', HTMLElement),
    table: byId('tokens-table', HTMLTableElement),
    list: byId('tokens-list', HTMLTableSectionElement),
    empty: byId('tokens-empty', HTMLElement),
    form: byId('token-form', HTMLFormElement),
    name: byId('token-name', HTMLInputElement),
    create: byId('token-create', HTMLButtonElement),
    created: byId('token-created', HTMLElement),
    createdTitle: byId('token-created-title', HTMLElement),
    secret: byId('token-secret', HTMLInputElement),
    copy: byId('token-copy', HTMLButtonElement),
    copyStatus: byId('token-copy-status', HTMLElement),
  }),
);

/**
 * @param {string | null} id
 * @returns {string}
 */
function _path(id) {
  return id === null ? '/' : `/c/${encodeURIComponent(id)}`;
}

/** @returns {string | null} the conversation the URL names */
function _idFromLocation() {
  const match = /^\/c\/([^/]+)\/?$/.exec(location.pathname);
  if (!match) return null;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return null; // a malformed %-escape: treat as no conversation
  }
}

/**
 * Open a conversation (or the empty state for null) and focus the prompt.
 * @param {string | null} id
 * @param {boolean} push  record it in the history (not when following back/forward)
 */
function _show(id, push) {
  if (push && location.pathname !== _path(id)) history.pushState(null, '', _path(id));
  sidebar.setActive(id);
  _setSidebarOpen(false);
  if (id === null) chat.clear();
  else void chat.open(id);
  composer.focus();
}

/**
 * Open a search result: a hit opens its conversation at the message (on the branch that
 * holds it), highlighted and focused; a title-only result opens the conversation.
 * @param {string} id
 * @param {string | null} messageId
 */
function _showHit(id, messageId) {
  if (messageId === null) {
    _show(id, true);
    return;
  }
  if (location.pathname !== _path(id)) history.pushState(null, '', _path(id));
  sidebar.setActive(id);
  _setSidebarOpen(false);
  void chat.openAt(id, messageId);
}

/** @param {boolean} open  the sidebar, on narrow screens where it overlays the chat */
function _setSidebarOpen(open) {
  app.classList.toggle('sidebar-open', open);
  toggle.setAttribute('aria-expanded', String(open));
  backdrop.hidden = !open;
}

const _sidebarShown = () => narrow.matches && app.classList.contains('sidebar-open');

newChat.addEventListener('click', () => _show(null, true));

searchOpen.addEventListener('click', () => searchDialog.open(searchOpen));

settingsOpen.addEventListener('click', () => {
  const id = chat.conversationId;
  if (id) void settingsDialog.open(id, settingsOpen);
});

toggle.addEventListener('click', () => {
  const open = !_sidebarShown();
  _setSidebarOpen(open);
  if (open) newChat.focus();
});

backdrop.addEventListener('click', () => _setSidebarOpen(false));

narrow.addEventListener('change', () => _setSidebarOpen(false));

window.addEventListener('popstate', () => _show(_idFromLocation(), false));

document.addEventListener('keydown', (event) => {
  // Ctrl+K / ⌘K: search from anywhere, as in most apps (the browser's own use of it,
  // focusing its search bar, gives way while the page has the focus).
  // (event.code: the K key whatever the keyboard layout types with it.)
  const k = event.key.toLowerCase() === 'k' || event.code === 'KeyK';
  if (k && (event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey) {
    event.preventDefault();
    // Not over another modal dialog (tokens, a confirmation): one at a time.
    if (!document.querySelector('dialog[open]')) {
      const focused = document.activeElement;
      searchDialog.open(focused instanceof HTMLElement && focused !== document.body ? focused : prompt);
    }
    return;
  }
  if (event.key !== 'Escape' || event.defaultPrevented) return;
  // With a modal dialog open, Esc belongs to the dialog (it closes it): it must not also
  // close the sidebar or stop the reply behind it.
  if (document.querySelector('dialog[open]')) return;
  if (_sidebarShown()) {
    _setSidebarOpen(false);
    toggle.focus();
  } else if (chat.busy) {
    event.preventDefault();
    void chat.stop();
  }
});

api.getInfo().then(
  (info) => {
    header.setDefaultModel(info.model);
    if (info.model_notice) {
      modelNotice.textContent = info.model_notice;
      modelNotice.hidden = false;
    }
    composer.setMaxChars(info.max_prompt_chars);
    chat.maxChars = info.max_prompt_chars;
  },
  (error) => console.warn('parley: could not load /api/info', error),
);

// In accounts mode without a session the other requests answer 401 and go to the login
// page anyway; asking first would only slow down local mode, which has no login.
api.getMe().then(
  (me) => {
    if (me.mode !== 'accounts') return;
    if (me.user) account.show(me.user);
    else api.goToLogin();
  },
  (error) => console.warn('parley: could not load /api/auth/me', error),
);

void sidebar.refresh();
_show(_idFromLocation(), false);
