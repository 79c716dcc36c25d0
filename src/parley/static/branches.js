// What the controls under a message do (actions.js draws them). Edit sends a new version
// of a prompt and Regenerate a new version of a reply, each streamed in place of the old
// one and everything after it (the old branch stays, behind the version switcher); the
// switcher makes another branch the current one and shows it; "Fork from here" copies
// the branch up to a message into a new conversation.

import { openEditor } from './actions.js';
import * as api from './api.js';
import { describeError } from './dom.js';
import { notice } from './messages.js';

/** @typedef {import('./actions.js').EditForm} EditForm */
/** @typedef {import('./actions.js').MessageActions} MessageActions */
/** @typedef {import('./api.js').Conversation} Conversation */
/** @typedef {import('./api.js').Message} Message */
/** @typedef {import('./chatview.js').ChatView} ChatView */
/** @typedef {import('./loading.js').OpenOptions} OpenOptions */
/** @typedef {import('./runview.js').RunView} RunView */

/**
 * @typedef {object} BranchesHooks
 * @property {(conversationId: string, options: OpenOptions) => Promise<unknown>} reopen
 *   load the conversation again (its current branch changed)
 * @property {(conversation: Conversation) => void} forked  "Fork from here" made this conversation
 */

/** @implements {MessageActions} */
export class Branches {
  /**
   * @param {ChatView} view
   * @param {RunView} runs
   * @param {BranchesHooks} hooks
   */
  constructor(view, runs, hooks) {
    this._view = view;
    this._runs = runs;
    this._hooks = hooks;
  }

  /**
   * Swap a user message's text for the inline editor.
   * @param {HTMLElement} element
   * @param {Message} message
   */
  edit(element, message) {
    if (this._view.blocked) return;
    openEditor(element, message.text ?? '', (text, form) => void this._sendEdit(element, message, text, form));
  }

  /** @param {HTMLElement} element */
  regenerate(element) {
    void this._regenerate(element);
  }

  /**
   * Answer the tool calls a reply waits on: the reply goes on in place, as a new run.
   * @param {HTMLElement} element
   * @param {import('./api.js').Decision[]} decisions
   */
  answer(element, decisions) {
    void this._answer(element, decisions);
  }

  /**
   * @param {HTMLElement} element
   * @param {import('./api.js').Decision[]} decisions
   */
  async _answer(element, decisions) {
    const view = this._view;
    const id = view.conversationId;
    const messageId = element.getAttribute('data-id');
    if (!id || !messageId || view.blocked) return;
    view.setBusy(true);
    view.clearNotices();
    await this._runs.stream((signal) => api.answerToolCalls(id, messageId, decisions, signal), {
      conversationId: id,
      optimistic: null,
      replace: null,
      reply: null,
      resumes: element,
      created: false,
      refused: (error) => {
        element.after(notice(describeError(error), null));
        // Nothing was recorded: the buttons work again.
        for (const button of element.querySelectorAll('.approval button')) {
          if (button instanceof HTMLButtonElement) button.disabled = false;
        }
      },
    });
  }

  /** @param {HTMLElement} element */
  fork(element) {
    void this._fork(element);
  }

  /**
   * @param {HTMLElement} element
   * @param {string} siblingId
   * @param {'previous' | 'next'} direction
   */
  version(element, siblingId, direction) {
    void this._switchVersion(element, siblingId, direction);
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
  async _sendEdit(element, message, text, form) {
    const view = this._view;
    const id = view.conversationId;
    if (!id || view.blocked || !text.trim()) return;
    const tooLong = view.tooLong(text);
    form.showError(tooLong);
    if (tooLong) return;
    view.setBusy(true);
    view.clearNotices();
    await this._runs.stream((signal) => api.editMessage(id, message.id, text, signal), {
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
    const view = this._view;
    const id = view.conversationId;
    const messageId = element.getAttribute('data-id');
    if (!id || !messageId || view.blocked) return;
    view.setBusy(true);
    view.clearNotices();
    await this._runs.stream((signal) => api.regenerateMessage(id, messageId, signal), {
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
    const view = this._view;
    const id = view.conversationId;
    if (!id || view.blocked) return;
    const generation = view.generation;
    view.loading = true;
    view.syncActions();
    try {
      await api.switchBranch(id, siblingId);
    } catch (error) {
      if (generation !== view.generation) return;
      view.loading = false;
      view.syncActions();
      element.after(notice(`Could not switch versions. ${describeError(error)}`, null));
      return;
    }
    if (generation !== view.generation) return;
    await this._hooks.reopen(id, { reveal: { id: siblingId, direction } });
  }

  /**
   * "Fork from here": a new conversation holding the branch up to this message.
   * @param {HTMLElement} element
   */
  async _fork(element) {
    const view = this._view;
    const id = view.conversationId;
    const messageId = element.getAttribute('data-id');
    if (!id || !messageId || view.blocked) return;
    const generation = view.generation;
    view.loading = true; // one fork per click, and no prompt meanwhile
    view.syncActions();
    /** @type {Conversation} */
    let forked;
    try {
      forked = await api.forkConversation(id, messageId);
    } catch (error) {
      if (generation !== view.generation) return;
      view.loading = false;
      view.syncActions();
      element.after(notice(`Could not fork the conversation. ${describeError(error)}`, null));
      return;
    }
    if (generation !== view.generation) return;
    view.loading = false;
    this._hooks.forked(forked);
  }
}
