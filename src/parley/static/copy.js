// Copying to the clipboard: the Copy buttons of replies and code blocks, and the page's
// one status region that says "Copied" (or that it failed) to screen readers.
//
// Copy buttons never carry `msg__action`: copying changes nothing, so it stays allowed
// while a reply is being generated.

import { h, icon } from './dom.js';

/** How long the check mark replaces the copy icon, and an error stays shown (ms). */
const CONFIRM_MS = 1500;
const ERROR_MS = 4000;

/** @type {HTMLElement | null} */
let _region = null;
/** @type {number | undefined} */
let _saying;

/**
 * The page's polite status region, made with the first Copy button: a region must be in
 * the page before its text changes to be announced.
 * @returns {HTMLElement}
 */
function _status() {
  if (!_region?.isConnected) {
    _region = h('div', { class: 'visually-hidden', role: 'status', 'data-testid': 'copy-status' });
    document.body.append(_region);
  }
  return _region;
}

/**
 * Announce `text`. The region is emptied first and filled a moment later, so that
 * "Copied" twice in a row is announced twice.
 * @param {string} text
 */
function _say(text) {
  const region = _status();
  clearTimeout(_saying);
  region.textContent = '';
  _saying = window.setTimeout(() => {
    region.textContent = text;
  }, 50);
}

/**
 * Put text on the clipboard. Text still to be fetched is handed over as a promise
 * (ClipboardItem): Safari allows writing only while the click is being handled, not
 * after an await.
 * @param {string | Promise<string>} text
 * @returns {Promise<void>}
 */
export async function writeClipboard(text) {
  // navigator.clipboard exists only in secure contexts (HTTPS, 127.0.0.1, localhost):
  // Parley served over plain HTTP on a home network has none, where the older
  // execCommand still copies.
  const clipboard = navigator.clipboard;
  if (!clipboard) return _copySelected(await text);
  if (typeof text === 'string') return clipboard.writeText(text);
  if (typeof ClipboardItem !== 'function') return clipboard.writeText(await text);
  const blob = text.then((value) => new Blob([value], { type: 'text/plain' }));
  // write() rejects when `blob` does; this only keeps a rejection it never reads (the
  // write failed first) from being reported as unhandled.
  blob.catch(() => {});
  return clipboard.write([new ClipboardItem({ 'text/plain': blob })]);
}

/**
 * Copy the old way: select `text` in a textarea of its own and have the browser copy the
 * selection (allowed for a few seconds after the click or key that asked for it). The
 * focus goes back where it was.
 * @param {string} text
 */
function _copySelected(text) {
  const focused = document.activeElement;
  const area = h('textarea', { class: 'copy-source', readonly: true, tabindex: '-1', 'aria-hidden': 'true' });
  area.value = text;
  // Inside an open modal dialog if the focus is there: the page behind it is inert, and
  // nothing in it can be selected.
  (focused?.closest('dialog[open]') ?? document.body).append(area);
  area.focus({ preventScroll: true });
  area.setSelectionRange(0, text.length);
  let copied = false;
  try {
    copied = document.execCommand('copy');
  } finally {
    area.remove();
    if (focused instanceof HTMLElement && focused !== document.body) focused.focus({ preventScroll: true });
  }
  if (!copied) throw new Error('The browser refused to copy.');
}

/** @type {WeakMap<HTMLButtonElement, number>} */
const _confirming = new WeakMap();

/**
 * A button that copies `source()`. Its name stays what it does ("Copy", "Copy code"):
 * the outcome is announced in the status region, and shown by a check mark in place of
 * the icon or by a short error beside the button.
 * @param {object} options
 * @param {string} options.label       the button's accessible name
 * @param {string} options.className
 * @param {boolean} [options.showLabel] the label shown beside the icon (else a tooltip)
 * @param {() => string | Promise<string>} options.source  the text, read on each click
 * @returns {HTMLButtonElement}
 */
export function copyButton({ label, className, showLabel = false, source }) {
  _status();
  const attrs = showLabel
    ? { type: 'button', class: className }
    : { type: 'button', class: className, 'aria-label': label, title: label };
  const button = h('button', attrs, icon('copy'));
  if (showLabel) button.append(h('span', {}, label));
  button.addEventListener('click', () => void _copy(button, source));
  return button;
}

/**
 * @param {HTMLButtonElement} button
 * @param {() => string | Promise<string>} source
 */
async function _copy(button, source) {
  const shown = button.nextElementSibling;
  if (shown?.classList.contains('copy-error')) shown.remove();
  try {
    await writeClipboard(source());
  } catch (error) {
    console.warn('parley: could not copy', error);
    const text = 'Could not copy';
    const note = h('span', { class: 'copy-error' }, text);
    button.after(note);
    setTimeout(() => note.remove(), ERROR_MS);
    _say(text);
    return;
  }
  _say('Copied');
  clearTimeout(_confirming.get(button));
  button.querySelector('svg')?.replaceWith(icon('check'));
  button.classList.add('copy--done');
  _confirming.set(
    button,
    window.setTimeout(() => {
      button.querySelector('svg')?.replaceWith(icon('copy'));
      button.classList.remove('copy--done');
    }, CONFIRM_MS),
  );
}
