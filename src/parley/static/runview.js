// A run shown in the log as it streams. Sending a prompt, editing one, regenerating a
// reply and reattaching to a run already going share one path, `stream`: it follows the
// run (run.js) and turns each event into the log's messages, a new branch taking the
// place of the old one. Also Stop, which asks the server to end the run.

import * as api from './api.js';
import { describeError } from './dom.js';
import { notice } from './messages.js';
import { followRun } from './run.js';

/** @typedef {import('./api.js').Message} Message */
/** @typedef {import('./chatview.js').ChatView} ChatView */
/** @typedef {import('./events.js').RunEvent} RunEvent */
/** @typedef {import('./loading.js').OpenOptions} OpenOptions */
/** @typedef {import('./messages.js').AssistantMessage} AssistantMessage */
/** @typedef {import('./pages.js').Pages} Pages */

/**
 * What one stream is about, for the events that need it.
 * @typedef {object} StreamContext
 * @property {string} conversationId
 * @property {HTMLElement | null} optimistic  the unsaved copy of the prompt, replaced by `user`
 * @property {HTMLElement | null} replace     the message an edit (`user`) or a regenerate
 *   (`start`) makes a new version of: it and everything after it give way to the new branch
 * @property {AssistantMessage | null} reply   the reply being built, from `start` on
 * @property {HTMLElement | null} [resumes]   a reply that waited for tool approvals and
 *   goes on in place (its `start` message holds the parts so far)
 * @property {boolean} created  the conversation was created for this prompt
 * @property {(error: unknown) => void} refused  the first request failed: nothing was started
 */

/**
 * @typedef {object} RunViewHooks
 * @property {(conversationId: string, replied: boolean) => void} refresh  the conversation
 *   changed on the server: its first prompt was saved, or a reply ended (`replied`)
 * @property {(conversationId: string, options?: OpenOptions) => void} reopen  load it again
 */

export class RunView {
  /**
   * @param {ChatView} view
   * @param {Pages} pages
   * @param {RunViewHooks} hooks
   */
  constructor(view, pages, hooks) {
    this._view = view;
    this._pages = pages;
    this._hooks = hooks;
    /** @type {AbortController | null} the stream being read */
    this._abort = null;
  }

  /** Stop reading the stream, if any (the run goes on server-side). */
  abort() {
    this._abort?.abort();
    this._abort = null;
  }

  /** Ask the server to stop the streaming reply (its `done` event ends the stream). */
  async stop() {
    const view = this._view;
    const runId = view.runId;
    const { stop, prompt } = view.elements;
    if (!runId || stop.disabled) return;
    if (document.activeElement === stop) prompt.focus();
    stop.disabled = true;
    try {
      await api.stopRun(runId);
    } catch (error) {
      if (view.runId !== runId) return; // it ended meanwhile
      stop.disabled = false;
      view.append(notice(`Could not stop the reply: ${describeError(error)}`, null));
    }
  }

  /**
   * Follow a run that was already going when the conversation was opened.
   * @param {string} conversationId
   * @param {string} runId
   * @param {Message | null} generating  the saved partial reply, shown if the run cannot be followed
   */
  async attach(conversationId, runId, generating) {
    const view = this._view;
    view.setBusy(true);
    await this.stream((signal) => api.attachRun(runId, null, signal), {
      conversationId,
      optimistic: null,
      replace: null,
      reply: null,
      created: false,
      refused: (error) => {
        if (error instanceof api.ApiError && error.status === 404) {
          // The run ended between loading the messages and attaching: load them again.
          this._hooks.reopen(conversationId, { attach: false });
          return;
        }
        if (generating) view.append(view.render(generating));
        view.append(notice(describeError(error), () => this._hooks.reopen(conversationId)));
      },
    });
  }

  /**
   * Follow a run (see run.js) and show its events. The caller has set busy; this always
   * clears it, unless the view was reset meanwhile (which already did).
   * @param {(signal: AbortSignal) => Promise<Response>} connect
   * @param {StreamContext} context
   */
  async stream(connect, context) {
    const view = this._view;
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
        const reopen = () => this._hooks.reopen(context.conversationId);
        if (context.reply) context.reply.fail(text, reopen);
        else view.append(notice(text, reopen));
      }
    } finally {
      if (this._abort === abort) {
        this._abort = null;
        view.setBusy(false);
        view.focusPromptIfIdle();
        this._pages.shrink(); // once the focus has settled: what holds it stays
      }
    }
  }

  /**
   * Show one event of the run being followed.
   * @param {RunEvent} event
   * @param {StreamContext} context
   */
  _apply(event, context) {
    const view = this._view;
    const { reply } = context;
    switch (event.type) {
      case 'user': {
        const { message } = event.data;
        const saved = view.render(message);
        // A reattaching stream replays the run from its first event: the user's message may
        // already be on the page, loaded with the conversation.
        const shown = view.messageElement(message.id);
        if (context.replace?.isConnected) this._branchFrom(context.replace, saved);
        else if (context.optimistic?.isConnected) context.optimistic.replaceWith(saved);
        else if (shown) shown.replaceWith(saved);
        else view.append(saved);
        context.optimistic = context.replace = null;
        if (context.created) this._hooks.refresh(context.conversationId, false);
        view.keepFocus();
        break;
      }
      case 'start': {
        const fresh = view.reply(event.data.message);
        // In the log only the reply being generated is announced: the log itself is no
        // live region, so a history that opens is not read out.
        fresh.announce();
        if (context.resumes?.isConnected) {
          fresh.renderParts(event.data.message.parts ?? []);
          context.resumes.replaceWith(fresh.element);
          context.resumes = null;
        } else if (context.replace?.isConnected) this._branchFrom(context.replace, fresh.element);
        else if (reply?.element.isConnected) reply.element.replaceWith(fresh.element);
        else view.append(fresh.element);
        context.replace = null;
        context.reply = fresh;
        view.setRun(event.data.run_id);
        view.keepFocus();
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
        else view.append(notice(event.data.detail, null));
        if (reply) view.syncActions(reply.element);
        break;
      case 'done':
        reply?.finish(event.data);
        if (reply) view.syncActions(reply.element);
        if (reply && event.data.status === 'awaiting_approval') void this._showWaiting(context.conversationId, reply);
        this._hooks.refresh(context.conversationId, true);
        break;
    }
    view.scroll.follow();
  }

  /**
   * A reply that ended waiting for tool approvals: shown again as saved, with what each
   * call waits for and the buttons to answer it (the events do not carry them).
   * @param {string} conversationId
   * @param {AssistantMessage} reply
   */
  async _showWaiting(conversationId, reply) {
    const id = reply.element.getAttribute('data-id');
    if (!id) return;
    try {
      const saved = await api.getMessage(conversationId, id);
      if (!reply.element.isConnected || this._view.conversationId !== conversationId) return;
      const shown = this._view.render(saved);
      reply.element.replaceWith(shown);
      const first = shown.querySelector('.approval button');
      if (first instanceof HTMLButtonElement) first.focus({ preventScroll: true });
    } catch (error) {
      console.warn('parley: could not load the tool calls waiting for approval', error);
    }
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
    this._view.scroll.follow();
  }
}
