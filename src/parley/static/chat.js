// One conversation's view, coordinated: opening a conversation (loading.js fetches it,
// this shows it and attaches to a run still going), sending a prompt, Stop, and telling
// the rest of the page what changed (the hooks). The parts are their own modules:
// chatview.js the controls and their state, runview.js a run streaming into the log,
// branches.js the message actions (edit, regenerate, versions, fork), pages.js paging,
// titles.js waiting for the model's title, header.js the model and usage totals shown
// beside the title, jumplatest.js the way back to the newest message.

import * as api from './api.js';
import { Branches } from './branches.js';
import { ChatView } from './chatview.js';
import { ContextMarker } from './contextmarker.js';
import { describeError } from './dom.js';
import { JumpToLatest } from './jumplatest.js';
import { loadConversation, whatToShow } from './loading.js';
import { notice, pendingMessage } from './messages.js';
import { Pages } from './pages.js';
import { RunView } from './runview.js';
import { awaitTitle } from './titles.js';

/** @typedef {import('./actions.js').MessageActions} MessageActions */
/** @typedef {import('./api.js').Conversation} Conversation */
/** @typedef {import('./chatview.js').ChatElements} ChatElements */
/** @typedef {import('./header.js').ConversationHeader} ConversationHeader */
/** @typedef {import('./loading.js').Loaded} Loaded */
/** @typedef {import('./loading.js').OpenOptions} OpenOptions */

/**
 * @typedef {object} ChatHooks
 * @property {(conversation: Conversation) => void} created  a first prompt created this conversation
 * @property {(conversation: Conversation) => void} changed  a reply ended: title and order may have changed
 * @property {(conversation: Conversation) => void} titled   the server replaced a provisional title
 * @property {(conversation: Conversation) => void} forked   "Fork from here" made this conversation
 * @property {(id: string) => void} missing                  the conversation asked for does not exist
 */

export class Chat {
  /**
   * @param {ChatElements} elements
   * @param {ChatHooks} hooks
   * @param {ConversationHeader} header
   */
  constructor(elements, hooks, header) {
    this._hooks = hooks;
    this._header = header;
    /** @type {MessageActions} what the buttons of each message do: Branches' business */
    const actions = {
      edit: (element, message) => this._branches.edit(element, message),
      regenerate: (element) => this._branches.regenerate(element),
      fork: (element) => this._branches.fork(element),
      version: (element, siblingId, direction) => this._branches.version(element, siblingId, direction),
      answer: (element, decisions) => this._branches.answer(element, decisions),
    };
    const view = (this._view = new ChatView(elements, actions));
    const marker = (this._marker = new ContextMarker(elements.log));
    this._jump = new JumpToLatest(elements.log, elements.prompt, () => void this.jumpToLatest());
    this._jump.button.addEventListener('wheel', (event) => view.scroll.wheelOver(event), { passive: true });
    view.scroll.onMoved = () => this._syncJump();
    this._pages = new Pages(elements.log, view.scroll, {
      render: (message) => view.render(message),
      newest: (messages) => {
        // Paging down reached a reply still being generated: reopen to follow its run.
        const last = messages.at(-1);
        if (last?.status === 'generating' && view.conversationId && !view.busy) void this.open(view.conversationId);
      },
      // Every page tells where the context begins; the message may be in this one.
      loaded: (page) => {
        marker.set(page.context_start_id, page.context_empty);
        this._syncJump();
      },
      // A reply streaming into the newest end needs its element to stay in the log.
      trimmable: () => !view.busy,
      // An edit or a regenerate took the newer pages away, or a trim brought them back.
      bounds: () => this._syncJump(),
    });
    this._runs = new RunView(view, this._pages, {
      refresh: (id, replied) => {
        this._refreshConversation(id, replied);
        if (replied) void marker.refresh(id, () => this.conversationId === id);
      },
      reopen: (id, options) => void this.open(id, options),
    });
    this._branches = new Branches(view, this._runs, {
      reopen: (id, options) => this.open(id, options),
      forked: (conversation) => this._hooks.forked(conversation),
    });
    const { log, stop } = elements;
    stop.addEventListener('click', () => void this.stop());
    log.addEventListener('scroll', () => {
      view.scroll.scrolled();
      if (!view.loading) this._pages.scrolled();
    });
  }

  /** @returns {boolean} whether a reply is being sent or streamed */
  get busy() {
    return this._view.busy;
  }

  /** @returns {string | null} the open conversation */
  get conversationId() {
    return this._view.conversationId;
  }

  /** @returns {boolean} whether the log reaches the newest message of the open conversation */
  get atNewest() {
    return this._pages.atNewest;
  }

  /** @returns {number | null} the server's prompt limit in characters, once known */
  get maxChars() {
    return this._view.maxChars;
  }

  set maxChars(value) {
    this._view.maxChars = value;
  }

  /** Show the empty state: the next prompt creates a conversation. */
  clear() {
    this._reset();
    this._view.conversationId = null;
    this._view.setTitle(null);
    this._header.show(null);
    this._view.showEmpty();
  }

  /**
   * Show what changed if it is the open conversation (renamed from the sidebar, its
   * model or instructions saved in the settings dialog).
   * @param {Conversation} conversation
   */
  updated(conversation) {
    if (conversation.id !== this.conversationId) return;
    this._view.setTitle(conversation.title);
    this._header.show(conversation);
  }

  /**
   * Load a conversation; if a reply is still being generated, attach to its run.
   * @param {string} id
   * @param {OpenOptions} [options]
   * @returns {Promise<boolean>} whether the conversation is shown
   */
  async open(id, options = {}) {
    const view = this._view;
    this._reset();
    view.conversationId = id;
    const generation = view.generation;
    const { log } = view.elements;
    log.setAttribute('aria-busy', 'true');
    view.loading = true;
    /** @type {Loaded} */
    let loaded;
    try {
      loaded = await loadConversation(id, options);
    } catch (error) {
      if (generation !== view.generation) return false;
      view.loading = false;
      log.removeAttribute('aria-busy');
      if (error instanceof api.ApiError && error.status === 404) {
        this.clear();
        log.append(notice('That conversation does not exist (any more).', null));
        this._hooks.missing(id);
      } else {
        log.append(notice(describeError(error), () => this.open(id, options)));
      }
      return false;
    }
    if (generation !== view.generation) return false;
    view.loading = false;
    log.removeAttribute('aria-busy');
    const { conversation, page, problem } = loaded;
    view.setTitle(conversation.title);
    this._header.show(conversation);
    void this._header.refreshUsage();

    const { items, runId, generating } = whatToShow(loaded, options);
    for (const message of items) log.append(view.render(message));
    this._pages.reset(id, page);
    this._marker.set(page.context_start_id, page.context_empty);
    if (problem) log.append(notice(problem, null));
    const target = options.around ?? options.reveal?.id;
    const element = target ? view.messageElement(target) : null;
    if (element && options.around) view.scroll.highlight(element);
    else if (element && options.reveal) view.scroll.revealVersion(element, options.reveal.direction);
    else view.scroll.toBottom();
    this._syncJump();
    // A first page too short to scroll (or a hit near an end) loads the next one now.
    this._pages.scrolled();
    if (runId) void this._runs.attach(id, runId, generating);
    return true;
  }

  /**
   * "Jump to latest": go to the newest message and follow the conversation again; a window
   * that stops short of the newest message is replaced by the newest page. The focus stays
   * where it is: if that is on the button, the button gives it on as it hides (jumplatest.js).
   */
  async jumpToLatest() {
    const view = this._view;
    const id = view.conversationId;
    if (view.loading) return;
    if (id && !this._pages.atNewest) await this.open(id);
    else view.scroll.toBottom();
  }

  /**
   * Open a conversation at a message (a search hit), on the branch that holds it.
   * @param {string} id
   * @param {string} messageId
   */
  async openAt(id, messageId) {
    await this.open(id, { around: messageId });
  }

  /**
   * Send a prompt, creating the conversation first if none is open.
   * @param {string} prompt
   * @param {import('./api.js').UploadedFile[]} [files]  uploaded files it sends
   */
  async send(prompt, files = []) {
    const view = this._view;
    if (view.blocked || !prompt.trim()) return;
    const tooLong = view.tooLong(prompt);
    if (tooLong) {
      // Refuse here rather than create a conversation only for the server to refuse.
      view.clearNotices();
      view.append(notice(tooLong, null));
      return;
    }
    if (view.conversationId && !this._pages.atNewest) {
      // The log shows a page from the middle of the branch (a search hit), and the prompt
      // continues the branch after its newest message: show that first. If a reply is
      // being generated there, the prompt stays in the box until it ends.
      const shown = await this.open(view.conversationId);
      if (!shown || view.busy) return;
    }
    const generation = view.generation;
    view.setBusy(true);
    view.clearNotices();
    view.setPrompt('');
    view.hideEmpty();
    const optimistic = pendingMessage(prompt, files);
    view.append(optimistic);
    view.scroll.toBottom();

    const refused = (/** @type {unknown} */ error) => {
      if (generation !== view.generation) return;
      optimistic.remove();
      view.append(notice(describeError(error), () => void this.send(prompt, files)));
      // Nothing was saved: give the prompt back so that nothing typed is lost.
      if (!view.prompt) view.setPrompt(prompt);
      if (!view.conversationId) view.showEmpty();
    };

    let created = false;
    let conversationId = view.conversationId;
    if (!conversationId) {
      try {
        const conversation = await api.createConversation();
        if (generation !== view.generation) return;
        conversationId = view.conversationId = conversation.id;
        created = true;
        view.setTitle(conversation.title);
        this._header.show(conversation);
        this._hooks.created(conversation);
      } catch (error) {
        refused(error);
        if (generation === view.generation) view.setBusy(false);
        return;
      }
    }
    const id = conversationId;
    const fileIds = files.map((f) => f.id);
    await this._runs.stream((signal) => api.sendMessage(id, prompt, signal, fileIds), {
      conversationId: id,
      optimistic,
      replace: null,
      reply: null,
      created,
      refused,
    });
  }

  /** Ask the server to stop the streaming reply (its `done` event ends the stream). */
  async stop() {
    await this._runs.stop();
  }

  /** Forget the current view: stop reading any stream (the run goes on server-side). */
  _reset() {
    this._runs.abort();
    this._view.reset();
    this._pages.clear();
    this._marker.clear();
    this._syncJump();
  }

  /** Offer "Jump to latest" while the newest message is out of view or not in the log. */
  _syncJump() {
    const view = this._view;
    const open = view.conversationId !== null && !view.loading;
    this._jump.show(open && (view.scroll.away || !this._pages.atNewest));
  }

  /**
   * Fetch the conversation again: once its first prompt is saved or a reply ends, the
   * server may have set its title, and its place in the list has changed. After a reply,
   * a provisional title is followed until the model's replaces it, and the totals of
   * what its replies used are fetched again.
   * @param {string} id
   * @param {boolean} replied  a reply has ended
   */
  _refreshConversation(id, replied) {
    api.getConversation(id).then(
      (conversation) => {
        const open = this.conversationId === id;
        if (open) this.updated(conversation);
        if (open && replied) void this._header.refreshUsage();
        this._hooks.changed(conversation);
        if (!replied) return;
        awaitTitle(conversation, (titled) => {
          if (this.conversationId === titled.id) this._view.setTitle(titled.title);
          this._hooks.titled(titled);
        });
      },
      (error) => console.warn('parley: could not refresh the conversation', error),
    );
  }
}
