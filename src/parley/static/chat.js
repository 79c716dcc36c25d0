// The open conversation: loading its messages, sending a prompt, showing a run's events
// (the send stream and reattaching share one path, `_stream`), stopping, scrolling.

import * as api from './api.js';
import { describeError, h } from './dom.js';
import { AssistantMessage, notice, previousPrompt, userMessage } from './messages.js';
import { followRun } from './run.js';

/** @typedef {import('./api.js').Conversation} Conversation */
/** @typedef {import('./api.js').Message} Message */
/** @typedef {import('./api.js').Page<Message>} MessagePage */
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
 * @property {(id: string) => void} missing                  the conversation asked for does not exist
 */

/**
 * What one stream is about, for the events that need it.
 * @typedef {object} StreamContext
 * @property {string} conversationId
 * @property {HTMLElement | null} optimistic  the unsaved copy of the prompt, replaced by `user`
 * @property {AssistantMessage | null} reply   the reply being built, from `start` on
 * @property {boolean} created  the conversation was created for this prompt
 * @property {(error: unknown) => void} refused  the first request failed: nothing was started
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
    /** @type {string | null} cursor for older messages */
    this._cursor = null;
    /** Follow new content unless the user scrolled up. */
    this._stick = true;
    this._scrollQueued = false;
    const { log, stop } = elements;
    stop.addEventListener('click', () => void this.stop());
    log.addEventListener('scroll', () => {
      this._stick = log.scrollHeight - log.scrollTop - log.clientHeight < STICKY_PX;
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
   * @param {{attach?: boolean}} [options]  attach: false after the run turned out to be gone
   */
  async open(id, options = {}) {
    this._reset();
    this.conversationId = id;
    const generation = this._generation;
    const { log } = this._el;
    log.setAttribute('aria-busy', 'true');
    this._loading = true;
    /** @type {[Conversation, MessagePage]} */
    let loaded;
    try {
      loaded = await Promise.all([api.getConversation(id), api.listMessages(id)]);
    } catch (error) {
      if (generation !== this._generation) return;
      this._loading = false;
      log.removeAttribute('aria-busy');
      if (error instanceof api.ApiError && error.status === 404) {
        this.clear();
        log.append(notice('That conversation does not exist (any more).', null));
        this._hooks.missing(id);
      } else {
        log.append(notice(describeError(error), () => this.open(id)));
      }
      return;
    }
    if (generation !== this._generation) return;
    this._loading = false;
    log.removeAttribute('aria-busy');
    const [conversation, page] = loaded;
    this._setTitle(conversation.title);

    // A reply being generated is rebuilt from its run's events (replayed from the
    // start), not from the partial copy saved so far.
    let items = page.items;
    const last = items.at(-1);
    let runId = options.attach === false ? null : conversation.active_run_id;
    /** @type {Message | null} */
    let generating = null;
    if (options.attach !== false && last?.role === 'assistant' && last.status === 'generating') {
      runId ??= last.run_id;
      if (runId) {
        generating = last;
        items = items.slice(0, -1);
      }
    }
    this._cursor = page.next_cursor;
    if (this._cursor) log.append(this._earlierButton());
    for (const message of items) log.append(this._render(message));
    this._scrollToBottom();
    if (runId) void this._attach(runId, generating);
  }

  /**
   * Send a prompt, creating the conversation first if none is open.
   * @param {string} prompt
   */
  async send(prompt) {
    if (this._busy || this._loading || !prompt.trim()) return;
    const length = [...prompt].length;
    if (this.maxChars !== null && length > this.maxChars) {
      // Refuse here rather than create a conversation only for the server to refuse.
      this._clearNotices();
      const limit = this.maxChars.toLocaleString();
      this._append(notice(`The message is too long: ${length.toLocaleString()} characters, the limit is ${limit}.`, null));
      return;
    }
    const generation = this._generation;
    this._setBusy(true);
    this._clearNotices();
    this._setPrompt('');
    this._el.empty.remove();
    const optimistic = userMessage(prompt, 'pending');
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
        const saved = userMessage(message.text ?? '', message.status, message.id);
        // A reattaching stream replays the run from its first event: the user's message may
        // already be on the page, loaded with the conversation.
        const shown = this._el.log.querySelector(`[data-id="${CSS.escape(message.id)}"]`);
        if (context.optimistic?.isConnected) context.optimistic.replaceWith(saved);
        else if (shown) shown.replaceWith(saved);
        else this._append(saved);
        context.optimistic = null;
        if (context.created) this._refreshConversation(context.conversationId);
        break;
      }
      case 'start': {
        const fresh = new AssistantMessage(event.data.message, (view) => this._retry(view));
        if (reply?.element.isConnected) reply.element.replaceWith(fresh.element);
        else this._append(fresh.element);
        context.reply = fresh;
        this._setRun(event.data.run_id);
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
        break;
      case 'done':
        reply?.finish(event.data);
        this._refreshConversation(context.conversationId);
        break;
    }
    this._follow();
  }

  /**
   * Retry a failed reply: send its prompt again, as a new message.
   * @param {AssistantMessage} view
   */
  _retry(view) {
    const prompt = previousPrompt(view.element);
    if (prompt !== null) void this.send(prompt);
  }

  /**
   * Fetch the conversation again: once its first prompt is saved or a reply ends, the
   * server may have set its title, and its place in the list has changed.
   * @param {string} id
   */
  _refreshConversation(id) {
    api.getConversation(id).then(
      (conversation) => {
        if (this.conversationId === id) this._setTitle(conversation.title);
        this._hooks.changed(conversation);
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
    if (message.role === 'user') return userMessage(message.text ?? '', message.status, message.id);
    try {
      return AssistantMessage.fromMessage(message, (view) => this._retry(view)).element;
    } catch (error) {
      console.warn('parley: could not render a message', message, error);
      return notice('This reply could not be shown.', null);
    }
  }

  /** @returns {HTMLButtonElement} */
  _earlierButton() {
    const button = h('button', { type: 'button', class: 'btn btn--quiet earlier' }, 'Load earlier messages');
    button.addEventListener('click', () => void this._loadEarlier(button));
    return button;
  }

  /**
   * Prepend the previous page of messages, keeping what is on screen in place.
   * @param {HTMLButtonElement} button
   */
  async _loadEarlier(button) {
    const id = this.conversationId;
    const generation = this._generation;
    if (!id || !this._cursor) return;
    button.disabled = true;
    /** @type {MessagePage} */
    let page;
    try {
      page = await api.listMessages(id, this._cursor);
    } catch (error) {
      if (generation !== this._generation) return;
      button.disabled = false;
      button.after(notice(describeError(error), null));
      return;
    }
    if (generation !== this._generation) return;
    const { log } = this._el;
    const fromBottom = log.scrollHeight - log.scrollTop;
    button.after(...page.items.map((message) => this._render(message)));
    this._cursor = page.next_cursor;
    if (this._cursor) {
      button.disabled = false;
    } else {
      button.remove();
      log.focus(); // the button had focus; keep it in the conversation
    }
    log.scrollTop = log.scrollHeight - fromBottom;
  }

  /** Forget the current view: stop reading any stream (the run goes on server-side). */
  _reset() {
    this._generation++;
    this._loading = false;
    this._abort?.abort();
    this._abort = null;
    this._setBusy(false);
    this._cursor = null;
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
    for (const button of log.querySelectorAll('button.retry')) {
      if (button instanceof HTMLButtonElement) button.disabled = busy;
    }
    if (!busy) this._setRun(null);
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

  /** After a reply ends, put the focus back in the prompt unless the user went elsewhere. */
  _focusPromptIfIdle() {
    const active = document.activeElement;
    const { log, prompt, stop } = this._el;
    if (!active || active === document.body || active === stop || log.contains(active)) prompt.focus();
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
