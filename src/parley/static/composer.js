// The message form: Enter sends, Shift+Enter is a newline, the textarea grows with its
// text, and a counter appears as the prompt nears the server's length limit. Files
// attached (attachments.js) are sent with the prompt once their uploads have ended.

import { Attachments } from './attachments.js';

/** @typedef {import('./api.js').UploadedFile} UploadedFile */

/**
 * @typedef {object} ComposerElements
 * @property {HTMLFormElement} form
 * @property {HTMLTextAreaElement} prompt
 * @property {HTMLElement} counter
 * @property {HTMLButtonElement} attach  "Attach files"
 * @property {HTMLInputElement} files    the hidden file input it opens
 */

/**
 * @typedef {object} ComposerHooks
 * @property {(prompt: string, files: UploadedFile[]) => void} submit
 * @property {() => boolean} busy  a reply is streaming: Enter must not send
 */

export class Composer {
  /**
   * @param {ComposerElements} elements
   * @param {ComposerHooks} hooks
   */
  constructor(elements, hooks) {
    this._el = elements;
    /** @type {number | null} */
    this._maxChars = null;
    // Chromium sizes the textarea to its content in CSS; elsewhere, do it here.
    this._autosize = !CSS.supports('field-sizing', 'content');
    const { form, prompt } = elements;
    const box = form.querySelector('.composer__box');
    this._attachments = new Attachments({
      form,
      box: box instanceof HTMLElement ? box : prompt,
      button: elements.attach,
      input: elements.files,
      prompt,
    });
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      if (hooks.busy()) return;
      if (this._attachments.empty) {
        hooks.submit(prompt.value, []);
        return;
      }
      if (!prompt.value.trim()) return; // a prompt says what to do with the files
      const text = prompt.value;
      void this._attachments.take().then((files) => {
        if (files !== null && !hooks.busy()) hooks.submit(text, files);
      });
    });
    prompt.addEventListener('keydown', (event) => {
      // isComposing: Enter also confirms an IME composition (Japanese, Chinese, …).
      if (event.key !== 'Enter' || event.shiftKey || event.isComposing) return;
      event.preventDefault();
      if (!hooks.busy()) form.requestSubmit();
    });
    prompt.addEventListener('input', () => this._update());
  }

  /** @param {number} maxChars  the server's limit, from /api/info */
  setMaxChars(maxChars) {
    this._maxChars = maxChars;
    this._update();
  }

  focus() {
    this._el.prompt.focus();
  }

  _update() {
    const { prompt, counter } = this._el;
    if (this._autosize) {
      prompt.style.height = 'auto';
      prompt.style.height = `${prompt.scrollHeight + 2}px`;
    }
    const max = this._maxChars;
    // The server counts characters (code points); .length counts UTF-16 units, which is
    // never fewer, so the exact count is only needed near the limit.
    const near = max !== null && prompt.value.length > max * 0.8;
    const count = near ? [...prompt.value].length : 0;
    counter.hidden = !near || count <= max * 0.8;
    counter.textContent = near ? `${count.toLocaleString()} / ${max.toLocaleString()}` : '';
    counter.classList.toggle('is-over', near && count > max);
  }
}
