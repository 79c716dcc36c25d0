// The open conversation: loading its messages (the newest page, or the page around a
// search hit), sending a prompt, showing a run's events (sending, editing, regenerating
// and reattaching share one path, `_stream`), stopping, scrolling, and the message
// actions: edit, regenerate, switch versions, fork.

import * as api from './api.js';
import { openEditor } from './actions.js';
import { describeError } from './dom.js';
import { AssistantMessage, notice, pendingMessage, userMessage } from './messages.js';
import { PAGE_AROUND, Pages } from './pages.js';
import { followRun } from './run.js';
import { awaitTitle } from './titles.js';

/** @typedef {import('./actions.js').MessageActions} MessageActions */
/** @typedef {import('./actions.js').EditForm} EditForm */
/** @typedef {import('./api.js').Conversation} Conversation */
/** @typedef {import('./api.js').Message} Message */
/** @typedef {import('./api.js').MessagePage} MessagePage */
/** @typedef {import('./api.js').RunEvent} RunEvent */

/**
 * @typedef {object} ChatElements
 * @property {HTMLElement} log          the message list (role="log"), also the scroller
 * @property {HTMLElement} empty        the empty state, shown in the log when no conversation is open
 * @property {HTMLElement} title        the conversation's title in the header
 * @property {HTMLTextAreaElement} prompt
 * @property {HTMLButtonElement} send
 * @property {HTMLButtonElement} stop
 */

/**
 * @typedef {object} ChatHooks
 * @property {(conversation: Conversation) => void} created  a first prompt created this conversation
 * @property {(conversation: Conversation) => void} changed  a reply ended: title and order may have changed
 * @property {(conversation: Conversation) => void} titled   the server replaced a provisional title
 * @property {(conversation: Conversation) => void} forked   "Fork from here" made this conversation
 * @property {(id: string) => void} missing                  the conversation asked for does not exist
 */

/**
 * What one stream is about, for the events that need it.
 * @typedef {object} StreamContext
 * @property {string} conversationId
 * @property {HTMLElement | null} optimistic  the unsaved copy of the prompt, replaced by `user`
 * @property {HTMLElement | null} replace     the message an edit (`user`) or a regenerate
 *   (`start`) makes a new version of: it and everything after it give way to the new branch
 * @property {AssistantMessage | null} reply   the reply being built, from `start` on
 * @property {boolean} created  the conversation was created for this prompt
 * @property {(error: unknown) => void} refused  the first request failed: nothing was started
 */

/**
 * @typedef {object} OpenOptions
 * @property {boolean} [attach]  false after the run turned out to be gone
 * @property {string} [around]   a search hit: show the page around this message, highlighted
 * @property {{id: string, direction: 'previous' | 'next'}} [reveal]  a version just switched
 *   to: keep it in view, and the focus on the switcher
 */

/** How close to the bottom (px) still counts as "at the bottom" for autoscroll. */
const STICKY_PX = 48;

export class Chat {
  /**
   * @param {ChatElements} elements
   * @param {ChatHooks} hooks
   */
  constructor(elements, hooks) {
    this._el = elements;
    this._hooks = hooks;
    /** @type {string | null} */
    this.conversationId = null;
    /** Bumped whenever the view is reset: async work of an older generation is dropped. */
    this._generation = 0;
    /** @type {AbortController | null} the stream being read */
    this._abort = null;
    /** @type {string | null} the run whose reply is streaming (for Stop) */
    this._runId = null;
    this._busy = false;
    /** Messages are being loaded: sending now would interleave with them. */
    this._loading = false;
    /** @type {number | null} the server's prompt limit in characters, once known */
    this.maxChars = null;
    /** Follow new content unless the user scrolled up. */
    this._stick = true;
    this._scrollQueued = false;
    /** @type {MessageActions} what the buttons of each message do */
    this._actions = {
      edit: (element, message) => this._startEdit(element, message),
      regenerate: (element) => void this._regenerate(element),
      fork: (element) => void this._fork(element),
      version: (element, siblingId, direction) => void this._switchVersion(element, siblingId, direction),
    };
    const { log, stop } = elements;
    this._pages = new Pages(log, {
      render: (message) => this._render(message),
      newest: (messages) => {
        // Paging down reached a reply still being generated: reopen to follow its run.
        const last = messages.at(-1);
        if (last?.status === 'generating' && this.conversationId && !this._busy) void this.open(this.conversationId);
      },
    });
    stop.addEventListener('click', () => void this.stop());
    log.addEventListener('scroll', () => {
      this._stick = log.scrollHeight - log.scrollTop - log.clientHeight < STICKY_PX;
      if (!this._loading) this._pages.scrolled();
    });
  }

  /** @returns {boolean} whether a reply is being sent or streamed */
  get busy() {
    return this._busy;
  }

  /** Show the empty state: the next prompt creates a conversation. */
  clear() {
    this._reset();
    this.conversationId = null;
    this._setTitle(null);
    this._el.log.append(this._el.empty);
  }

  /**
   * Show a new title if it is the open conversation's (renamed from the sidebar).
   * @param {Conversation} conversation
   */
  renamed(conversation) {
    if (conversation.id === this.conversationId) this._setTitle(conversation.title);
  }

  /**
   * Load a conversation; if a reply is still being generated, attach to its run.
   * @param {string} id
   * @param {OpenOptions} [options]
   * @returns {Promise<boolean>} whether the conversation is shown
   */
  async open(id, options = {}) {
    this._reset();
    this.conversationId = id;
    const generation = this._generation;
    const { log } = this._el;
    log.setAttribute('aria-busy', 'true');
    this._loading = true;
    /** @type {[Conversation, {page: MessagePage, problem: string | null}]} */
    let loaded;
    try {
      loaded = await Promise.all([api.getConversation(id), this._firstPage(id, options)]);
    } catch (error) {
      if (generation !== this._generation) return false;
      this._loading = false;
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
    if (generation !== this._generation) return false;
    this._loading = false;
    log.removeAttribute('aria-busy');
    const [conversation, { page, problem }] = loaded;
    this._setTitle(conversation.title);

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
    for (const message of items) log.append(this._render(message));
    this._pages.reset(id, page);
    if (problem) log.append(notice(problem, null));
    const target = options.around ?? options.reveal?.id;
    const element = target ? this._messageElement(target) : null;
    if (element && options.around) this._highlight(element);
    else if (element && options.reveal) this._revealVersion(element, options.reveal.direction);
    else this._scrollToBottom();
    if (runId) void this._attach(runId, generating);
    return true;
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
   * The first page to show: the newest, or the one around a message.
   * @param {string} id
   * @param {OpenOptions} options
   * @returns {Promise<{page: MessagePage, problem: string | null}>}
   */
  async _firstPage(id, options) {
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

  /**
   * Send a prompt, creating the conversation first if none is open.
   * @param {string} prompt
   */
  async send(prompt) {
    if (this._busy || this._loading || !prompt.trim()) return;
    const tooLong = this._tooLong(prompt);
    if (tooLong) {
      // Refuse here rather than create a conversation only for the server to refuse.
      this._clearNotices();
      this._append(notice(tooLong, null));
      return;
    }
    if (this.conversationId && !this._pages.atNewest) {
      // The log shows a page from the middle of the branch (a search hit), and the prompt
      // continues the branch after its newest message: show that first. If a reply is
      // being generated there, the prompt stays in the box until it ends.
      const shown = await this.open(this.conversationId);
      if (!shown || this._busy) return;
    }
    const generation = this._generation;
    this._setBusy(true);
    this._clearNotices();
    this._setPrompt('');
    this._el.empty.remove();
    const optimistic = pendingMessage(prompt);
    this._append(optimistic);
    this._scrollToBottom();

    const refused = (/** @type {unknown} */ error) => {
      if (generation !== this._generation) return;
      optimistic.remove();
      this._append(notice(describeError(error), () => void this.send(prompt)));
      // Nothing was saved: give the prompt back so that nothing typed is lost.
      if (!this._el.prompt.value) this._setPrompt(prompt);
      if (!this.conversationId) this._el.log.append(this._el.empty);
    };

    let created = false;
    let conversationId = this.conversationId;
    if (!conversationId) {
      try {
        const conversation = await api.createConversation();
        if (generation !== this._generation) return;
        conversationId = this.conversationId = conversation.id;
        created = true;
        this._setTitle(conversation.title);
        this._hooks.created(conversation);
      } catch (error) {
        refused(error);
        if (generation === this._generation) this._setBusy(false);
        return;
      }
    }
    const id = conversationId;
    await this._stream((signal) => api.sendMessage(id, prompt, signal), {
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
    const runId = this._runId;
    const { stop, prompt } = this._el;
    if (!runId || stop.disabled) return;
    if (document.activeElement === stop) prompt.focus();
    stop.disabled = true;
    try {
      await api.stopRun(runId);
    } catch (error) {
      if (this._runId !== runId) return; // it ended meanwhile
      stop.disabled = false;
      this._append(notice(`Could not stop the reply: ${describeError(error)}`, null));
    }
  }

  /**
   * Follow a run that was already going when the conversation was opened.
   * @param {string} runId
   * @param {Message | null} generating  the saved partial reply, shown if the run cannot be followed
   */
  async _attach(runId, generating) {
    const id = /** @type {string} */ (this.conversationId);
    this._setBusy(true);
    await this._stream((signal) => api.attachRun(runId, null, signal), {
      conversationId: id,
      optimistic: null,
      replace: null,
      reply: null,
      created: false,
      refused: (error) => {
        if (error instanceof api.ApiError && error.status === 404) {
          // The run ended between loading the messages and attaching: load them again.
          void this.open(id, { attach: false });
          return;
        }
        if (generating) this._append(this._render(generating));
        this._append(notice(describeError(error), () => void this.open(id)));
      },
    });
  }

  /**
   * Follow a run (see run.js) and show its events. The caller has set busy; this always
   * clears it, unless the view was reset meanwhile (which already did).
   * @param {(signal: AbortSignal) => Promise<Response>} connect
   * @param {StreamContext} context
   */
  async _stream(connect, context) {
    const abort = new AbortController();
    this._abort = abort;
    try {
      const end = await followRun(connect, (event) => this._apply(event, context), abort.signal);
      if (abort.signal.aborted) return;
      if (end.outcome === 'refused') {
        context.refused(end.error);
      } else if (end.outcome === 'lost') {
        // The run may still be going on the server, so Retry reopens the conversation
        // (which reattaches to it) instead of sending the prompt again.
        const text = 'The connection to the server was lost.';
        const reopen = () => void this.open(context.conversationId);
        if (context.reply) context.reply.fail(text, reopen);
        else this._append(notice(text, reopen));
      }
    } finally {
      if (this._abort === abort) {
        this._abort = null;
        this._setBusy(false);
        this._focusPromptIfIdle();
      }
    }
  }

  /**
   * Show one event of the run being followed.
   * @param {RunEvent} event
   * @param {StreamContext} context
   */
  _apply(event, context) {
    const { reply } = context;
    switch (event.type) {
      case 'user': {
        const { message } = event.data;
        const saved = this._render(message);
        // A reattaching stream replays the run from its first event: the user's message may
        // already be on the page, loaded with the conversation.
        const shown = this._messageElement(message.id);
        if (context.replace?.isConnected) this._branchFrom(context.replace, saved);
        else if (context.optimistic?.isConnected) context.optimistic.replaceWith(saved);
        else if (shown) shown.replaceWith(saved);
        else this._append(saved);
        context.optimistic = context.replace = null;
        if (context.created) this._refreshConversation(context.conversationId, false);
        this._keepFocus();
        break;
      }
      case 'start': {
        const fresh = new AssistantMessage(event.data.message, this._actions);
        this._syncActions(fresh.element);
        if (context.replace?.isConnected) this._branchFrom(context.replace, fresh.element);
        else if (reply?.element.isConnected) reply.element.replaceWith(fresh.element);
        else this._append(fresh.element);
        context.replace = null;
        context.reply = fresh;
        this._setRun(event.data.run_id);
        this._keepFocus();
        break;
      }
      case 'text':
        reply?.text(event.data.d);
        break;
      case 'block':
        reply?.block(event.data.html, event.data.n);
        break;
      case 'thinking':
        reply?.thinking(event.data.d);
        break;
      case 'tool_call':
        reply?.toolCall(event.data.tool_name, event.data.args);
        break;
      case 'tool_result':
        reply?.toolResult(event.data.tool_name, event.data.content);
        break;
      case 'error':
        if (reply) reply.fail(event.data.detail);
        else this._append(notice(event.data.detail, null));
        if (reply) this._syncActions(reply.element);
        break;
      case 'done':
        reply?.finish(event.data);
        if (reply) this._syncActions(reply.element);
        this._refreshConversation(context.conversationId, true);
        break;
    }
    this._follow();
  }

  /**
   * Replace `old` and everything after it with `fresh`: the first message of a new
   * branch (an edit's new prompt, a regenerated reply). Pages newer than `old` belonged
   * to the old branch.
   * @param {HTMLElement} old
   * @param {HTMLElement} fresh
   */
  _branchFrom(old, fresh) {
    while (old.nextSibling) old.nextSibling.remove();
    this._pages.dropNewer();
    old.replaceWith(fresh);
    this._follow();
  }

  /**
   * Swap a user message's text for the inline editor.
   * @param {HTMLElement} element
   * @param {Message} message
   */
  _startEdit(element, message) {
    if (this._busy || this._loading) return;
    openEditor(element, message.text ?? '', (text, form) => void this._edit(element, message, text, form));
  }

  /**
   * Send an edited prompt: a new version of the user message, then its reply, replace
   * the message and everything after it (the old branch stays, behind the switcher).
   * The editor stays until the server has taken it, to show a refusal in place.
   * @param {HTMLElement} element
   * @param {Message} message
   * @param {string} text
   * @param {EditForm} form
   */
  async _edit(element, message, text, form) {
    const id = this.conversationId;
    if (!id || this._busy || this._loading || !text.trim()) return;
    const tooLong = this._tooLong(text);
    form.showError(tooLong);
    if (tooLong) return;
    this._setBusy(true);
    this._clearNotices();
    await this._stream((signal) => api.editMessage(id, message.id, text, signal), {
      conversationId: id,
      optimistic: null,
      replace: element,
      reply: null,
      created: false,
      refused: (error) => {
        form.showError(describeError(error));
        form.input.focus();
      },
    });
  }

  /**
   * Generate a new version of a reply in its place (also how a failed reply is retried:
   * its prompt is never sent again as a new turn).
   * @param {HTMLElement} element
   */
  async _regenerate(element) {
    const id = this.conversationId;
    const messageId = element.getAttribute('data-id');
    if (!id || !messageId || this._busy || this._loading) return;
    this._setBusy(true);
    this._clearNotices();
    await this._stream((signal) => api.regenerateMessage(id, messageId, signal), {
      conversationId: id,
      optimistic: null,
      replace: element,
      reply: null,
      created: false,
      refused: (error) => element.after(notice(describeError(error), null)),
    });
  }

  /**
   * Show another version of a message: the server makes the newest branch through it
   * the current one (so a reload, another device and the model all see that branch),
   * then the branch is loaded again.
   * @param {HTMLElement} element
   * @param {string} siblingId
   * @param {'previous' | 'next'} direction
   */
  async _switchVersion(element, siblingId, direction) {
    const id = this.conversationId;
    if (!id || this._busy || this._loading) return;
    const generation = this._generation;
    this._loading = true;
    this._syncActions();
    try {
      await api.switchBranch(id, siblingId);
    } catch (error) {
      if (generation !== this._generation) return;
      this._loading = false;
      this._syncActions();
      element.after(notice(`Could not switch versions. ${describeError(error)}`, null));
      return;
    }
    if (generation !== this._generation) return;
    await this.open(id, { reveal: { id: siblingId, direction } });
  }

  /**
   * "Fork from here": a new conversation holding the branch up to this message.
   * @param {HTMLElement} element
   */
  async _fork(element) {
    const id = this.conversationId;
    const messageId = element.getAttribute('data-id');
    if (!id || !messageId || this._busy || this._loading) return;
    const generation = this._generation;
    this._loading = true; // one fork per click, and no prompt meanwhile
    this._syncActions();
    /** @type {Conversation} */
    let forked;
    try {
      forked = await api.forkConversation(id, messageId);
    } catch (error) {
      if (generation !== this._generation) return;
      this._loading = false;
      this._syncActions();
      element.after(notice(`Could not fork the conversation. ${describeError(error)}`, null));
      return;
    }
    if (generation !== this._generation) return;
    this._loading = false;
    this._hooks.forked(forked);
  }

  /**
   * Fetch the conversation again: once its first prompt is saved or a reply ends, the
   * server may have set its title, and its place in the list has changed. After a reply,
   * a provisional title is followed until the model's replaces it.
   * @param {string} id
   * @param {boolean} replied  a reply has ended
   */
  _refreshConversation(id, replied) {
    api.getConversation(id).then(
      (conversation) => {
        if (this.conversationId === id) this._setTitle(conversation.title);
        this._hooks.changed(conversation);
        if (!replied) return;
        awaitTitle(conversation, (titled) => {
          if (this.conversationId === titled.id) this._setTitle(titled.title);
          this._hooks.titled(titled);
        });
      },
      (error) => console.warn('parley: could not refresh the conversation', error),
    );
  }

  /**
   * A saved message, rendered; a reply that fails to render says so instead.
   * @param {Message} message
   * @returns {HTMLElement}
   */
  _render(message) {
    if (message.role === 'user') return this._syncActions(userMessage(message, this._actions));
    try {
      return this._syncActions(AssistantMessage.fromMessage(message, this._actions).element);
    } catch (error) {
      console.warn('parley: could not render a message', message, error);
      return notice('This reply could not be shown.', null);
    }
  }

  /**
   * @param {string} id
   * @returns {HTMLElement | null} the message's element, if it is on the page
   */
  _messageElement(id) {
    const element = this._el.log.querySelector(`.msg[data-id="${CSS.escape(id)}"]`);
    return element instanceof HTMLElement ? element : null;
  }

  /**
   * Bring a search hit into view, mark it (a highlight that fades) and focus it, so that
   * a screen reader starts there and the keyboard scrolls from there.
   * @param {HTMLElement} element
   */
  _highlight(element) {
    this._stick = false; // a reply streaming meanwhile must not scroll it away
    element.tabIndex = -1;
    element.classList.add('msg--found');
    element.scrollIntoView({ block: 'center' });
    element.focus({ preventScroll: true });
  }

  /**
   * After switching versions: keep the new version in view and the focus on the button
   * pressed (or its other one, if that end is reached), to switch again.
   * @param {HTMLElement} element
   * @param {'previous' | 'next'} direction
   */
  _revealVersion(element, direction) {
    this._stick = false;
    element.scrollIntoView({ block: 'nearest' });
    const other = direction === 'next' ? 'previous' : 'next';
    for (const name of [direction, other]) {
      const button = element.querySelector(`.versions__${name}`);
      if (button instanceof HTMLButtonElement && !button.disabled) {
        button.focus();
        return;
      }
    }
    element.tabIndex = -1;
    element.focus();
  }

  /** Forget the current view: stop reading any stream (the run goes on server-side). */
  _reset() {
    this._generation++;
    this._loading = false;
    this._abort?.abort();
    this._abort = null;
    this._setBusy(false);
    this._pages.clear();
    this._stick = true;
    this._el.log.replaceChildren();
    this._el.log.removeAttribute('aria-busy');
  }

  /** @param {boolean} busy */
  _setBusy(busy) {
    this._busy = busy;
    const { log, send } = this._el;
    send.disabled = busy;
    // aria-busy keeps screen readers from reading every streamed fragment of the reply.
    if (busy) log.setAttribute('aria-busy', 'true');
    else log.removeAttribute('aria-busy');
    this._syncActions();
    if (!busy) this._setRun(null);
  }

  /**
   * Enable the buttons that change the conversation (Retry, Edit, Regenerate, Fork, the
   * versions) only when nothing is being generated or loaded: the server refuses them
   * with 409 while a reply is generated.
   * @template {HTMLElement} T
   * @param {T} [root]  default: the whole log
   * @returns {T | HTMLElement} root
   */
  _syncActions(root) {
    const scope = root ?? this._el.log;
    const blocked = this._busy || this._loading;
    for (const button of scope.querySelectorAll('button.retry, button.msg__action')) {
      if (button instanceof HTMLButtonElement) button.disabled = blocked || button.hasAttribute('data-end');
    }
    return scope;
  }

  /**
   * @param {string} prompt
   * @returns {string | null} why the server would refuse it as too long
   */
  _tooLong(prompt) {
    const length = [...prompt].length;
    if (this.maxChars === null || length <= this.maxChars) return null;
    const limit = this.maxChars.toLocaleString();
    return `The message is too long: ${length.toLocaleString()} characters, the limit is ${limit}.`;
  }

  /** @param {string | null} runId  Stop is offered only while a run is known */
  _setRun(runId) {
    this._runId = runId;
    this._el.stop.hidden = runId === null;
    this._el.stop.disabled = runId === null;
  }

  /** @param {string | null} title  null for the empty state */
  _setTitle(title) {
    const shown = title || (this.conversationId ? 'Untitled' : 'New chat');
    this._el.title.textContent = shown;
    document.title = `${shown} · Parley`;
  }

  /** @param {string} value */
  _setPrompt(value) {
    this._el.prompt.value = value;
    // Let the composer resize and recount.
    this._el.prompt.dispatchEvent(new Event('input'));
  }

  _clearNotices() {
    for (const node of this._el.log.querySelectorAll('.notice')) node.remove();
  }

  /** @param {HTMLElement} node */
  _append(node) {
    this._el.log.append(node);
    this._follow();
  }

  /**
   * After a reply ends, put the focus back in the prompt unless the user went elsewhere
   * (an editor whose edit was refused keeps it).
   */
  _focusPromptIfIdle() {
    const active = document.activeElement;
    const { log, prompt, stop } = this._el;
    const inLog = log.contains(active) && !active?.closest('.edit');
    if (!active || active === document.body || active === stop || inLog) prompt.focus();
  }

  /** The focused control was replaced (Edit's Send, Regenerate): go to the prompt. */
  _keepFocus() {
    if (!document.activeElement || document.activeElement === document.body) this._el.prompt.focus();
  }

  _scrollToBottom() {
    this._stick = true;
    this._el.log.scrollTop = this._el.log.scrollHeight;
  }

  /** Keep the newest content in view, once per frame, unless the user scrolled up. */
  _follow() {
    if (!this._stick || this._scrollQueued) return;
    this._scrollQueued = true;
    requestAnimationFrame(() => {
      this._scrollQueued = false;
      if (this._stick) this._el.log.scrollTop = this._el.log.scrollHeight;
    });
  }
}
