// The "Tools" dialog: the MCP servers the operator set up, whether each runs, its approval
// policy and its tools, and per running server a "Use in this conversation" checkbox. A
// change is saved at once (the conversation's `tools_off`) and applies to the next reply.
// A modal <dialog>: Esc and Close close it, and the focus goes back to the button that
// opened it. Everything shown is text (server names, descriptions and errors come from the
// servers and the operator): nothing here is parsed as HTML.

import * as api from './api.js';
import { describeError, h } from './dom.js';

/** @typedef {import('./api.js').Conversation} Conversation */
/** @typedef {import('./api.js').McpServer} McpServer */
/** @typedef {import('./api.js').McpTool} McpTool */

/**
 * @typedef {object} ToolsElements
 * @property {HTMLDialogElement} dialog
 * @property {HTMLButtonElement} close
 * @property {HTMLElement} list     one item per server
 * @property {HTMLElement} empty    "no servers"
 * @property {HTMLElement} status   "Saved." (role="status")
 * @property {HTMLElement} error    why loading or saving failed (role="alert")
 */

/**
 * @typedef {object} ToolsHooks
 * @property {(conversation: Conversation) => void} saved  the server took the change
 */

/** What each policy means, in a sentence. */
const POLICIES = {
  always: 'Asks before every tool call.',
  never: 'Runs tool calls without asking.',
  'unless-read-only': 'Asks before tool calls, except tools that only read.',
};

const STATUSES = { running: 'Running', disabled: 'Disabled', error: 'Could not start' };

export class ToolsDialog {
  /**
   * @param {ToolsElements} elements
   * @param {ToolsHooks} hooks
   */
  constructor(elements, hooks) {
    this._el = elements;
    this._hooks = hooks;
    /** @type {string | null} */
    this._conversationId = null;
    /** @type {Set<string>} the servers switched off, as last saved or loaded */
    this._off = new Set();
    /** @type {HTMLElement | null} */
    this._opener = null;
    /** Bumped on each opening and closing: a late answer of an earlier one is dropped. */
    this._serial = 0;
    /** Saves one at a time, in the order of the clicks: the last one wins. */
    this._saving = Promise.resolve();
    elements.close.addEventListener('click', () => elements.dialog.close());
    elements.dialog.addEventListener('close', () => this._closed());
  }

  /**
   * Open on a conversation: the servers and its switches, both fetched again (the
   * operator may have restarted Parley, another tab may have changed them).
   * @param {string} conversationId
   * @param {HTMLElement} opener  gets the focus back when the dialog closes
   */
  async open(conversationId, opener) {
    const { dialog, list, empty, close } = this._el;
    if (dialog.open) return;
    const serial = ++this._serial;
    this._opener = opener;
    this._conversationId = conversationId;
    this._show(null, '');
    list.replaceChildren();
    empty.hidden = true;
    list.setAttribute('aria-busy', 'true');
    dialog.showModal();
    close.focus();
    try {
      const [{ servers }, conversation] = await Promise.all([
        api.getTools(),
        api.getConversation(conversationId),
      ]);
      if (serial !== this._serial) return;
      this._off = new Set(conversation.tools_off ?? []);
      list.replaceChildren(...servers.map((server) => this._server(server)));
      empty.hidden = servers.length > 0;
    } catch (error) {
      if (serial === this._serial) this._show(`Could not load the tools. ${describeError(error)}`, '');
    } finally {
      list.removeAttribute('aria-busy');
    }
  }

  /**
   * @param {McpServer} server
   * @returns {HTMLElement}
   */
  _server(server) {
    const headingId = `tools-server-${server.name}`;
    const section = h(
      'section',
      { class: `tools__server tools__server--${server.status}`, 'aria-labelledby': headingId },
      h(
        'div',
        { class: 'tools__head' },
        h('h3', { class: 'tools__name', id: headingId }, server.name),
        h('span', { class: 'tools__status' }, STATUSES[server.status] ?? server.status),
      ),
    );
    if (server.status === 'error') {
      section.append(h('p', { class: 'tools__error' }, server.error || 'It could not start.'));
    } else if (server.status === 'disabled') {
      section.append(h('p', { class: 'tools__note' }, 'Switched off by the operator.'));
    } else {
      section.append(this._switch(server), h('p', { class: 'tools__note' }, POLICIES[server.approval] ?? ''));
      if (server.tools.length) {
        section.append(h('ul', { class: 'tools__tools', 'aria-label': `Tools of ${server.name}` }, ...server.tools.map(_tool)));
      } else {
        section.append(h('p', { class: 'tools__note' }, 'It offers no tools.'));
      }
    }
    return h('li', { class: 'tools__item' }, section);
  }

  /**
   * The server's "Use in this conversation" checkbox, saved when changed.
   * @param {McpServer} server
   * @returns {HTMLElement}
   */
  _switch(server) {
    const input = h('input', { type: 'checkbox', class: 'tools__use' });
    input.checked = !this._off.has(server.name);
    input.addEventListener('change', () => this._save(server.name, input));
    return h('label', { class: 'tools__switch' }, input, 'Use in this conversation');
  }

  /**
   * @param {string} name
   * @param {HTMLInputElement} input
   */
  _save(name, input) {
    const id = this._conversationId;
    if (!id) return;
    const serial = this._serial;
    const use = input.checked;
    this._show(null, 'Saving…');
    this._saving = this._saving.then(async () => {
      const off = new Set(this._off);
      if (use) off.delete(name);
      else off.add(name);
      try {
        const conversation = await api.setToolsOff(id, [...off].sort());
        this._off = new Set(conversation.tools_off ?? []);
        // Saved even if the dialog was closed meanwhile: the page must know.
        this._hooks.saved(conversation);
        if (serial === this._serial) this._show(null, use ? `${name} is used in this conversation.` : `${name} is off in this conversation.`);
      } catch (error) {
        // Back to what the server holds; the box says why.
        if (serial !== this._serial) return;
        input.checked = !this._off.has(name);
        this._show(`Could not save. ${describeError(error)}`, '');
      }
    });
  }

  _closed() {
    this._serial++;
    this._conversationId = null;
    const opener = this._opener;
    this._opener = null;
    if (opener?.isConnected && !(opener instanceof HTMLButtonElement && opener.disabled)) opener.focus();
  }

  /**
   * @param {string | null} error
   * @param {string} status
   */
  _show(error, status) {
    this._el.error.textContent = error ?? '';
    this._el.error.hidden = error === null;
    this._el.status.textContent = status;
  }
}

/**
 * @param {McpTool} tool
 * @returns {HTMLElement}
 */
function _tool(tool) {
  const flags = [];
  if (tool.read_only) flags.push(h('span', { class: 'tools__flag' }, 'read-only'));
  if (tool.needs_approval) flags.push(h('span', { class: 'tools__flag tools__flag--asks' }, 'asks first'));
  return h(
    'li',
    { class: 'tools__tool' },
    h('code', { class: 'tools__tool-name' }, tool.name),
    ...flags,
    ...(tool.description ? [h('p', { class: 'tools__description' }, tool.description)] : []),
  );
}
