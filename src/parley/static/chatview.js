// The chat's part of the page and the state it shows: which conversation is open (the
// title), whether a reply is being sent or messages loaded (Send, Stop and the
// message actions follow it), the prompt box and its limit, the log's messages and
// notices, and where the focus goes when the control that had it is replaced.

import { AssistantMessage, notice, userMessage } from './messages.js';
import { Scroller } from './scroll.js';

/** @typedef {import('./actions.js').MessageActions} MessageActions */
/** @typedef {import('./api.js').Message} Message */

/**
 * @typedef {object} ChatElements
 * @property {HTMLElement} log          the message list (role="log"), also the scroller
 * @property {HTMLElement} empty        the empty state, shown in the log when no conversation is open
 * @property {HTMLElement} title        the conversation's title in the header
 * @property {HTMLTextAreaElement} prompt
 * @property {HTMLButtonElement} send
 * @property {HTMLButtonElement} stop
 */

export class ChatView {
  /**
   * @param {ChatElements} elements
   * @param {MessageActions} actions  what the buttons of each message do
   */
  constructor(elements, actions) {
    this.elements = elements;
    this._actions = actions;
    this.scroll = new Scroller(elements.log);
    /** @type {string | null} the open conversation; null for the empty state */
    this.conversationId = null;
    /** Bumped whenever the view is reset: async work of an older generation is dropped. */
    this.generation = 0;
    /** Messages are being loaded: sending now would interleave with them. */
    this.loading = false;
    this._busy = false;
    /** @type {string | null} the run whose reply is streaming (for Stop) */
    this._runId = null;
    /** @type {number | null} the server's prompt limit in characters, once known */
    this.maxChars = null;
  }

  /** @returns {boolean} whether a reply is being sent or streamed */
  get busy() {
    return this._busy;
  }

  /** @returns {boolean} whether a prompt or a message action must wait (busy or loading) */
  get blocked() {
    return this._busy || this.loading;
  }

  /** @returns {string | null} the run whose reply is streaming */
  get runId() {
    return this._runId;
  }

  /** Empty the log and forget its state: async work still under way is dropped. */
  reset() {
    this.generation++;
    this.loading = false;
    this.setBusy(false);
    this.scroll.reset();
    this.elements.log.replaceChildren();
    this.elements.log.removeAttribute('aria-busy');
  }

  /** @param {boolean} busy */
  setBusy(busy) {
    this._busy = busy;
    const { send } = this.elements;
    send.disabled = busy;
    // No aria-busy on the log while a reply streams: a screen reader would hold back the
    // reply's own live region (messages.js announces its finished blocks) until it ends.
    this.syncActions();
    if (!busy) this.setRun(null);
  }

  /** @param {string | null} runId  Stop is offered only while a run is known */
  setRun(runId) {
    this._runId = runId;
    this.elements.stop.hidden = runId === null;
    this.elements.stop.disabled = runId === null;
  }

  /**
   * Enable the buttons that change the conversation (Retry, Edit, Regenerate, Fork, the
   * versions) only when nothing is being generated or loaded: the server refuses them
   * with 409 while a reply is generated.
   * @template {HTMLElement} T
   * @param {T} [root]  default: the whole log
   * @returns {T | HTMLElement} root
   */
  syncActions(root) {
    const scope = root ?? this.elements.log;
    const blocked = this.blocked;
    for (const button of scope.querySelectorAll('button.retry, button.msg__action')) {
      if (button instanceof HTMLButtonElement) button.disabled = blocked || button.hasAttribute('data-end');
    }
    return scope;
  }

  /**
   * A saved message, rendered; a reply that fails to render says so instead.
   * @param {Message} message
   * @returns {HTMLElement}
   */
  render(message) {
    if (message.role === 'user') return this.syncActions(userMessage(message, this._actions));
    try {
      return this.syncActions(AssistantMessage.fromMessage(message, this._actions).element);
    } catch (error) {
      console.warn('parley: could not render a message', message, error);
      return notice('This reply could not be shown.', null);
    }
  }

  /**
   * A reply that is starting to stream, its buttons in step with the state.
   * @param {Message} message
   * @returns {AssistantMessage}
   */
  reply(message) {
    const reply = new AssistantMessage(message, this._actions);
    this.syncActions(reply.element);
    return reply;
  }

  /**
   * @param {string} id
   * @returns {HTMLElement | null} the message's element, if it is on the page
   */
  messageElement(id) {
    const element = this.elements.log.querySelector(`.msg[data-id="${CSS.escape(id)}"]`);
    return element instanceof HTMLElement ? element : null;
  }

  /**
   * Add to the end of the log, and keep it in view (unless the user scrolled up).
   * @param {HTMLElement} node
   */
  append(node) {
    this.elements.log.append(node);
    this.scroll.follow();
  }

  clearNotices() {
    for (const node of this.elements.log.querySelectorAll('.notice')) node.remove();
  }

  /** Show the empty state, in the log. */
  showEmpty() {
    this.elements.log.append(this.elements.empty);
  }

  hideEmpty() {
    this.elements.empty.remove();
  }

  /** @param {string | null} title  null for the empty state */
  setTitle(title) {
    const shown = title || (this.conversationId ? 'Untitled' : 'New chat');
    this.elements.title.textContent = shown;
    document.title = `${shown} · Parley`;
  }

  /** @returns {string} what the prompt box holds */
  get prompt() {
    return this.elements.prompt.value;
  }

  /** @param {string} value */
  setPrompt(value) {
    this.elements.prompt.value = value;
    // Let the composer resize and recount.
    this.elements.prompt.dispatchEvent(new Event('input'));
  }

  /**
   * @param {string} prompt
   * @returns {string | null} why the server would refuse it as too long
   */
  tooLong(prompt) {
    const length = [...prompt].length;
    if (this.maxChars === null || length <= this.maxChars) return null;
    const limit = this.maxChars.toLocaleString();
    return `The message is too long: ${length.toLocaleString()} characters, the limit is ${limit}.`;
  }

  /**
   * After a reply ends, put the focus back in the prompt unless the user went elsewhere
   * (an editor whose edit was refused keeps it).
   */
  focusPromptIfIdle() {
    const active = document.activeElement;
    const { log, prompt, stop } = this.elements;
    const inLog = log.contains(active) && !active?.closest('.edit');
    if (!active || active === document.body || active === stop || inLog) prompt.focus();
  }

  /** The focused control was replaced (Edit's Send, Regenerate): go to the prompt. */
  keepFocus() {
    if (!document.activeElement || document.activeElement === document.body) this.elements.prompt.focus();
  }
}
