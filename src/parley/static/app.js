// Start-up and wiring: finds the page's elements, connects the sidebar (a drawer on narrow
// screens), the search box and dialog, the chat and the composer, keeps the URL (/c/<id>)
// in step with the open conversation, opens the conversation settings, sharing and the
// shared links, connects import and export, shows the account controls in accounts mode
// and the model notice, and says what each keyboard shortcut does (keyboard.js has the
// keys). The theme is theme.js's, a script of its own.

import { Account } from './account.js';
import * as api from './api.js';
import { Chat } from './chat.js';
import { Composer } from './composer.js';
import { copyLastReply } from './copyreply.js';
import { byId } from './dom.js';
import { Drawer } from './drawer.js';
import { ConversationHeader } from './header.js';
import { ExportMenu, Importer } from './importexport.js';
import { listenForShortcuts } from './keyboard.js';
import { showNotice } from './notice.js';
import { SearchBox } from './search.js';
import { SearchDialog } from './searchdialog.js';
import { SettingsDialog } from './settingsdialog.js';
import { ShortcutsDialog } from './shortcutsdialog.js';
import { Sidebar } from './sidebar.js';
import { TokensDialog } from './tokens.js';
import { parleyPath, url } from './root.js';

const newChat = byId('new-chat', HTMLButtonElement);
const searchOpen = byId('search-open', HTMLButtonElement);
const settingsOpen = byId('settings-open', HTMLButtonElement);
const toolsOpen = byId('tools-open', HTMLButtonElement);
const shareOpen = byId('share-open', HTMLButtonElement);
const sharesOpen = byId('shares-open', HTMLButtonElement);
const shortcutsOpen = byId('shortcuts-open', HTMLButtonElement);
const skipLink = byId('skip-link', HTMLAnchorElement);
const log = byId('log', HTMLElement);
const prompt = byId('prompt', HTMLTextAreaElement);

// The same width as the CSS's narrow-screen section.
const drawer = new Drawer(
  {
    app: byId('app', HTMLElement),
    panel: byId('sidebar', HTMLElement),
    toggle: byId('sidebar-toggle', HTMLButtonElement),
    backdrop: byId('backdrop', HTMLElement),
    first: newChat,
    outside: [skipLink, byId('main', HTMLElement)],
  },
  window.matchMedia('(max-width: 700px)'),
);

const composer = new Composer(
  {
    form: byId('composer', HTMLFormElement),
    prompt,
    counter: byId('counter', HTMLElement),
    attach: byId('attach', HTMLButtonElement),
    files: byId('file-input', HTMLInputElement),
  },
  { submit: (text, files) => void chat.send(text, files), busy: () => chat.busy },
);

const header = new ConversationHeader({
  model: byId('model-name', HTMLElement),
  usage: byId('conversation-usage', HTMLElement),
  settings: settingsOpen,
  tools: toolsOpen,
  share: shareOpen,
  exports: {
    root: byId('export', HTMLElement),
    markdown: byId('export-markdown', HTMLAnchorElement),
    json: byId('export-json', HTMLAnchorElement),
  },
});

new ExportMenu({
  root: byId('export', HTMLElement),
  toggle: byId('export-open', HTMLButtonElement),
  menu: byId('export-menu', HTMLElement),
});

const chat = new Chat(
  {
    log,
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
      history.replaceState(null, '', _path(null));
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
        drawer.close(false);
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

// The Tools, Share and Shared links dialogs are loaded the first time one opens: they are
// not part of the page's first load (its byte budget, docs/benchmarks.md "Front end").
/** @type {Promise<import('./toolsdialog.js').ToolsDialog> | undefined} */
let toolsDialog;
const openToolsDialog = () =>
  (toolsDialog ??= import('./toolsdialog.js').then(
    ({ ToolsDialog }) =>
      new ToolsDialog(
        {
          dialog: byId('tools-dialog', HTMLDialogElement),
          close: byId('tools-close', HTMLButtonElement),
          list: byId('tools-list', HTMLElement),
          empty: byId('tools-empty', HTMLElement),
          status: byId('tools-status', HTMLElement),
          error: byId('tools-error', HTMLElement),
        },
        {
          saved(conversation) {
            chat.updated(conversation);
          },
        },
      ),
  ));

/** @type {Promise<import('./sharedialog.js').ShareDialog> | undefined} */
let shareDialog;
const openShareDialog = () =>
  (shareDialog ??= import('./sharedialog.js').then(
    ({ ShareDialog }) =>
      new ShareDialog({
        dialog: byId('share-dialog', HTMLDialogElement),
        body: byId('share-body', HTMLElement),
        close: byId('share-close', HTMLButtonElement),
        error: byId('share-error', HTMLElement),
        status: byId('share-status', HTMLElement),
        shared: byId('share-shared', HTMLElement),
        url: byId('share-url', HTMLInputElement),
        copy: byId('share-copy', HTMLButtonElement),
        dates: byId('share-dates', HTMLElement),
        options: byId('share-options', HTMLElement),
        files: byId('share-files', HTMLInputElement),
        create: byId('share-create', HTMLButtonElement),
        update: byId('share-update', HTMLButtonElement),
        revoke: byId('share-revoke', HTMLButtonElement),
      }),
  ));

/** @type {Promise<import('./sharesdialog.js').SharesDialog> | undefined} */
let sharesDialog;
const openSharesDialog = () =>
  (sharesDialog ??= import('./sharesdialog.js').then(
    ({ SharesDialog }) =>
      new SharesDialog({
        dialog: byId('shares-dialog', HTMLDialogElement),
        close: byId('shares-close', HTMLButtonElement),
        error: byId('shares-error', HTMLElement),
        status: byId('shares-status', HTMLElement),
        list: byId('shares-list', HTMLUListElement),
        empty: byId('shares-empty', HTMLElement),
      }),
  ));

new Importer(
  {
    button: byId('import-open', HTMLButtonElement),
    input: byId('import-file', HTMLInputElement),
    status: byId('import-status', HTMLElement),
    error: byId('import-error', HTMLElement),
    refusals: byId('import-refusals', HTMLUListElement),
    dismiss: byId('import-dismiss', HTMLButtonElement),
  },
  {
    imported(result) {
      if (result.imported) void sidebar.refresh();
    },
  },
);

const shortcutsDialog = new ShortcutsDialog({
  dialog: byId('shortcuts-dialog', HTMLDialogElement),
  list: byId('shortcuts-list', HTMLTableSectionElement),
  close: byId('shortcuts-close', HTMLButtonElement),
});

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
  return url(id === null ? '/' : `/c/${encodeURIComponent(id)}`);
}

/** @returns {string | null} the conversation the URL names */
function _idFromLocation() {
  const match = /^\/c\/([^/]+)\/?$/.exec(parleyPath(location.pathname) ?? '');
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
  drawer.close(false);
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
  drawer.close(false);
  void chat.openAt(id, messageId);
}

/** @returns {HTMLElement} what has the focus, to give it back after a dialog */
function _focused() {
  const focused = document.activeElement;
  return focused instanceof HTMLElement && focused !== document.body ? focused : prompt;
}

newChat.addEventListener('click', () => _show(null, true));

searchOpen.addEventListener('click', () => searchDialog.open(searchOpen));

shortcutsOpen.addEventListener('click', () => shortcutsDialog.open(shortcutsOpen));

// The link's own jump would put #prompt in the URL (a popstate, reopening the conversation)
// without focusing the box in every browser.
skipLink.addEventListener('click', (event) => {
  event.preventDefault();
  drawer.close(false);
  composer.focus();
});

settingsOpen.addEventListener('click', () => {
  const id = chat.conversationId;
  if (id) void settingsDialog.open(id, settingsOpen);
});

toolsOpen.addEventListener('click', () => {
  const id = chat.conversationId;
  if (id) void openToolsDialog().then((dialog) => dialog.open(id, toolsOpen));
});

shareOpen.addEventListener('click', () => {
  const id = chat.conversationId;
  if (id) void openShareDialog().then((dialog) => dialog.open(id, shareOpen));
});

sharesOpen.addEventListener('click', () => {
  void openSharesDialog().then((dialog) => dialog.open(sharesOpen));
});

window.addEventListener('popstate', () => _show(_idFromLocation(), false));

/** @param {-1 | 1} step  Alt+↑ / Alt+↓: the conversation above or below in the list */
function _move(step) {
  const id = sidebar.neighbour(step);
  if (id === null) return false;
  _show(id, true);
  return true;
}

listenForShortcuts({
  newChat() {
    _show(null, true);
    return true;
  },
  search() {
    // Taken even over another modal dialog (tokens, a confirmation), where it opens
    // nothing: one dialog at a time, and the browser's own Ctrl+K (its search bar) gives
    // way while the page has the focus, as in most apps.
    if (!document.querySelector('dialog[open]')) searchDialog.open(_focused());
    return true;
  },
  focusPrompt() {
    drawer.close(false);
    composer.focus();
    return true;
  },
  stop() {
    // The drawer first: Esc closes what is in front.
    if (drawer.shown) {
      drawer.close(true);
      return true;
    }
    if (!chat.busy) return false;
    void chat.stop();
    return true;
  },
  copyReply: () => copyLastReply(log, byId('toast', HTMLElement), chat),
  previous: () => _move(-1),
  next: () => _move(1),
  help() {
    shortcutsDialog.open(_focused());
    return true;
  },
});

api.getInfo().then(
  (info) => {
    header.setDefaultModel(info.model);
    if (info.model_notice) {
      const notice = {
        root: byId('model-notice', HTMLElement),
        text: byId('model-notice-text', HTMLElement),
        dismiss: byId('model-notice-dismiss', HTMLButtonElement),
      };
      showNotice(notice, info.model_notice, () => composer.focus());
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

// The Tools button shows only where the operator set up MCP servers.
api.getTools().then(
  ({ servers }) => {
    toolsOpen.hidden = servers.length === 0;
  },
  (error) => console.warn('parley: could not load /api/tools', error),
);

void sidebar.refresh();
_show(_idFromLocation(), false);
