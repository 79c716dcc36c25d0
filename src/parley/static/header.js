// The open conversation's details beside its title: the model its next reply uses, what
// all its replies have used so far (tokens and cost, every branch), the
// "Conversation settings" button, which works only while a conversation is open, and
// "Share" and "Export", shown only then (what they open is sharedialog.js's and
// importexport.js's; the export links point at the open conversation).

import * as api from './api.js';
import { totalsText } from './usage.js';

/** @typedef {import('./api.js').Conversation} Conversation */

/**
 * @typedef {object} HeaderElements
 * @property {HTMLElement} model            the model's badge
 * @property {HTMLElement} usage            the conversation's totals
 * @property {HTMLButtonElement} settings   "Conversation settings"
 * @property {HTMLButtonElement} [tools]    "Tools" (the MCP servers)
 * @property {HTMLButtonElement} [share]    "Share"
 * @property {ExportLinks} [exports]        "Export"
 */

/**
 * @typedef {object} ExportLinks
 * @property {HTMLElement} root              the Export button and its menu
 * @property {HTMLAnchorElement} markdown
 * @property {HTMLAnchorElement} json
 */

export class ConversationHeader {
  /** @param {HeaderElements} elements */
  constructor(elements) {
    this._el = elements;
    /** @type {string | null} the model of a conversation that has not chosen one */
    this._defaultModel = null;
    /** @type {Conversation | null} */
    this._conversation = null;
    /** Only the newest totals may show (answers can arrive out of order). */
    this._loads = 0;
  }

  /** @param {string} model  the default model (from /api/info) */
  setDefaultModel(model) {
    this._defaultModel = model;
    this._showModel();
  }

  /**
   * Show a conversation, or none (the empty state). Another conversation's totals go at
   * once: `refreshUsage` brings this one's.
   * @param {Conversation | null} conversation
   */
  show(conversation) {
    if (conversation?.id !== this._conversation?.id) {
      this._loads++; // a load still under way is the other conversation's
      this._showTotals(null);
    }
    this._conversation = conversation;
    this._el.settings.disabled = conversation === null;
    if (this._el.tools) this._el.tools.disabled = conversation === null;
    this._showExports(conversation?.id ?? null);
    this._showModel();
  }

  /** Fetch the open conversation's totals again (it was opened, or a reply ended). */
  async refreshUsage() {
    const id = this._conversation?.id;
    if (!id) return;
    const serial = ++this._loads;
    try {
      const totals = await api.getUsage(id);
      if (serial === this._loads && id === this._conversation?.id) this._showTotals(totalsText(totals), totals.replies);
    } catch (error) {
      if (serial !== this._loads) return;
      // A server without totals (404) simply shows none; the page works on without them.
      this._showTotals(null);
      if (!(error instanceof api.ApiError && error.status === 404)) {
        console.warn('parley: could not load the conversation usage', error);
      }
    }
  }

  /** @param {string | null} id  the open conversation */
  _showExports(id) {
    const { share, exports } = this._el;
    if (share) share.hidden = id === null;
    if (!exports) return;
    exports.root.hidden = id === null;
    if (id === null) {
      exports.markdown.removeAttribute('href');
      exports.json.removeAttribute('href');
    } else {
      exports.markdown.href = api.exportUrl(id, 'markdown');
      exports.json.href = api.exportUrl(id, 'json');
    }
  }

  _showModel() {
    const { model } = this._el;
    const chosen = this._conversation?.model ?? null;
    const shown = chosen ?? this._defaultModel;
    model.textContent = shown ?? '';
    model.title = chosen ? 'The model of this conversation' : 'The default model';
    model.hidden = !shown;
  }

  /**
   * @param {string | null} text  null: show no totals
   * @param {number} [replies]    none yet: nothing worth showing
   */
  _showTotals(text, replies = 0) {
    const { usage } = this._el;
    usage.textContent = text && replies ? text : '';
    usage.hidden = !usage.textContent;
  }
}
