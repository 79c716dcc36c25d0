// The "Conversation settings" dialog: the model of the conversation's next replies and
// its own instructions. A modal <dialog>: the focus starts on Model and goes back to the
// button that opened it; Esc and Cancel close without saving; Save closes once the server
// has taken the settings, or shows why it refused them and keeps what was typed.

import * as api from './api.js';
import { describe, models, optionLabel } from './catalog.js';
import { describeError, h } from './dom.js';

/** @typedef {import('./api.js').Conversation} Conversation */
/** @typedef {import('./api.js').ConversationSettings} ConversationSettings */
/** @typedef {import('./api.js').ModelChoice} ModelChoice */

/**
 * @typedef {object} SettingsElements
 * @property {HTMLDialogElement} dialog
 * @property {HTMLFormElement} form
 * @property {HTMLSelectElement} model
 * @property {HTMLElement} modelHint        what is known of the chosen model
 * @property {HTMLTextAreaElement} instructions
 * @property {HTMLElement} error            why loading or saving failed (role="alert")
 * @property {HTMLButtonElement} cancel
 * @property {HTMLButtonElement} save
 */

/**
 * @typedef {object} SettingsHooks
 * @property {(conversation: Conversation) => void} saved  the server took the new settings
 */

export class SettingsDialog {
  /**
   * @param {SettingsElements} elements
   * @param {SettingsHooks} hooks
   */
  constructor(elements, hooks) {
    this._el = elements;
    this._hooks = hooks;
    /** @type {string | null} the conversation whose settings are shown */
    this._conversationId = null;
    /** @type {ModelChoice[]} the models listed, the default first */
    this._choices = [];
    /** @type {HTMLElement | null} */
    this._opener = null;
    /** Bumped on each opening and closing: a late answer of an earlier one is dropped. */
    this._serial = 0;
    this._saving = false;
    const { dialog, form, model, cancel } = elements;
    cancel.addEventListener('click', () => dialog.close());
    // Esc is the dialog's own "cancel": it closes it, and ends up in the 'close' event too.
    dialog.addEventListener('close', () => this._closed());
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this._save();
    });
    model.addEventListener('change', () => this._describeChosen());
  }

  /**
   * Open the dialog on a conversation's current settings (fetched again: another tab or
   * device may have changed them).
   * @param {string} conversationId
   * @param {HTMLElement} opener  gets the focus back when the dialog closes
   */
  async open(conversationId, opener) {
    const { dialog, model, instructions, modelHint, cancel } = this._el;
    if (dialog.open) return;
    const serial = ++this._serial;
    this._opener = opener;
    this._conversationId = conversationId;
    this._showError(null);
    this._setReady(false);
    // Nothing of the last conversation opened here shows while these settings load.
    model.replaceChildren();
    instructions.value = '';
    modelHint.textContent = '';
    dialog.showModal();
    try {
      const [choices, conversation] = await Promise.all([models(), api.getConversation(conversationId)]);
      if (serial !== this._serial) return;
      this._fill(choices, conversation);
      this._setReady(true);
      model.focus();
    } catch (error) {
      if (serial !== this._serial) return;
      this._showError(`Could not load the settings. ${describeError(error)}`);
      cancel.focus();
    }
  }

  /**
   * @param {ModelChoice[]} choices
   * @param {Conversation} conversation
   */
  _fill(choices, conversation) {
    const { model, instructions } = this._el;
    this._choices = choices;
    const options = choices.map((choice, i) => h('option', { value: choice.id }, optionLabel(choice, i === 0)));
    const current = conversation.model ?? null;
    if (current && !choices.some((c) => c.id === current)) {
      // Chosen before the operator stopped offering it: shown as it is, and left alone
      // by Save unless another model is picked.
      options.push(h('option', { value: current, 'data-unoffered': true }, `${current} (no longer offered)`));
    }
    model.replaceChildren(...options);
    model.value = current ?? choices[0]?.id ?? '';
    instructions.value = conversation.instructions ?? '';
    this._describeChosen();
  }

  _describeChosen() {
    const { model, modelHint } = this._el;
    const choice = this._choices.find((c) => c.id === model.value);
    modelHint.textContent = choice ? describe(choice) : 'This model is no longer offered: pick another to change it.';
  }

  async _save() {
    const id = this._conversationId;
    const { dialog, form, model, instructions } = this._el;
    if (this._saving || !id || !dialog.open || form.getAttribute('aria-busy') === 'true') return;
    /** @type {ConversationSettings} */
    const settings = { instructions: instructions.value.trim() ? instructions.value : null };
    if (!model.selectedOptions[0]?.hasAttribute('data-unoffered')) {
      // The default is sent as null, so the conversation follows the operator's default.
      settings.model = model.value === this._choices[0]?.id ? null : model.value;
    }
    const serial = this._serial;
    this._saving = true;
    this._showError(null);
    try {
      const conversation = await api.updateSettings(id, settings);
      // Saved even if the dialog was closed meanwhile: the page must show it.
      this._hooks.saved(conversation);
      if (serial === this._serial) dialog.close('saved');
    } catch (error) {
      // Shown in the dialog, which stays open with everything as it was typed.
      if (serial === this._serial) this._showError(describeError(error));
    } finally {
      this._saving = false;
    }
  }

  /** @param {boolean} ready  the settings are loaded: the fields and Save work */
  _setReady(ready) {
    const { form, model, instructions, save } = this._el;
    if (ready) form.removeAttribute('aria-busy');
    else form.setAttribute('aria-busy', 'true');
    model.disabled = instructions.disabled = save.disabled = !ready;
  }

  _closed() {
    this._serial++;
    this._conversationId = null;
    const opener = this._opener;
    this._opener = null;
    if (opener?.isConnected && !(opener instanceof HTMLButtonElement && opener.disabled)) opener.focus();
  }

  /** @param {string | null} text */
  _showError(text) {
    const { error } = this._el;
    error.textContent = text ?? '';
    error.hidden = text === null;
  }
}
