// The page's keyboard shortcuts. One list, SHORTCUTS, both decides which keys do what and
// fills the "Keyboard shortcuts" dialog, so the dialog cannot tell of a key that does
// nothing. The keys follow the well-known chat apps (Ctrl+Shift+O a new chat, Ctrl+K search,
// Shift+Esc the message box, Ctrl+Shift+C copy the last reply) with ⌘ for Ctrl on a Mac.
// What each does is app.js's: it passes the hooks.

import { isTextField } from './textfield.js';

/**
 * @typedef {'newChat' | 'search' | 'focusPrompt' | 'stop' | 'copyReply' | 'previous' | 'next' | 'help'} Action
 */

/**
 * @typedef {object} Shortcut
 * @property {string} label                 what it does, as the dialog says it
 * @property {string[][]} keys              the keys to press, one list per way to type it
 * @property {Action | null} action         null: a key of one control (Enter in the message
 *                                          box), listed only
 * @property {(event: KeyboardEvent) => boolean} [matches]
 */

/**
 * What each action does; true if it did something (the key's own meaning, for the browser
 * or the focused field, then gives way).
 * @typedef {Record<Action, (event: KeyboardEvent) => boolean>} ShortcutHooks
 */

// A guess from the platform is enough: it only picks which of Ctrl and ⌘ the dialog shows;
// both work everywhere.
const MAC = /Mac|iPhone|iPad/.test(navigator.platform);
const MOD = MAC ? '⌘' : 'Ctrl';
const ALT = MAC ? 'Option' : 'Alt';

/** @param {KeyboardEvent} event  Ctrl, or ⌘ on a Mac (either is taken anywhere) */
const _mod = (event) => (event.ctrlKey || event.metaKey) && !event.altKey;

/**
 * The letter key, whatever the layout types with it (event.code), or the letter typed.
 * @param {KeyboardEvent} event
 * @param {string} letter  lower case
 */
const _letter = (event, letter) => event.key.toLowerCase() === letter || event.code === `Key${letter.toUpperCase()}`;

/** @param {KeyboardEvent} event */
const _plain = (event) => !event.ctrlKey && !event.metaKey && !event.altKey;

/**
 * Alt+↑ / Alt+↓ alone, where they are not the field's: in a text field holding text they
 * move its caret (Option+↑/↓ on a Mac: to the start or end of the paragraph), and in a
 * select they open it. An empty field has no caret to move: the message box, where the
 * focus lands after each switch, keeps switching.
 * @param {KeyboardEvent} event
 * @param {string} key
 */
function _altArrow(event, key) {
  if (!event.altKey || event.ctrlKey || event.metaKey || event.shiftKey || event.key !== key) return false;
  const field = event.target;
  const empty = (field instanceof HTMLInputElement || field instanceof HTMLTextAreaElement) && field.value === '';
  return empty || !isTextField(field);
}

/** @type {readonly Shortcut[]} in the order the dialog lists them */
export const SHORTCUTS = [
  {
    label: 'New chat',
    keys: [[MOD, 'Shift', 'O']],
    action: 'newChat',
    matches: (e) => _mod(e) && e.shiftKey && _letter(e, 'o'),
  },
  {
    label: 'Search conversations',
    keys: [[MOD, 'K']],
    action: 'search',
    matches: (e) => _mod(e) && !e.shiftKey && _letter(e, 'k'),
  },
  {
    label: 'Go to the message box',
    keys: [['Shift', 'Esc']],
    action: 'focusPrompt',
    matches: (e) => _plain(e) && e.shiftKey && e.key === 'Escape',
  },
  { label: 'Send the message', keys: [['Enter']], action: null },
  { label: 'New line in the message', keys: [['Shift', 'Enter']], action: null },
  {
    label: 'Stop the reply being written',
    keys: [['Esc']],
    action: 'stop',
    matches: (e) => _plain(e) && !e.shiftKey && e.key === 'Escape',
  },
  {
    label: 'Copy the last reply',
    keys: [[MOD, 'Shift', 'C']],
    action: 'copyReply',
    matches: (e) => _mod(e) && e.shiftKey && _letter(e, 'c'),
  },
  {
    label: 'Previous conversation',
    keys: [[ALT, '↑']],
    action: 'previous',
    matches: (e) => _altArrow(e, 'ArrowUp'),
  },
  {
    label: 'Next conversation',
    keys: [[ALT, '↓']],
    action: 'next',
    matches: (e) => _altArrow(e, 'ArrowDown'),
  },
  {
    label: 'Show keyboard shortcuts',
    keys: [['?']],
    // Only where "?" types nothing: in a text field it is a question mark.
    action: 'help',
    matches: (e) => _plain(e) && e.key === '?' && !isTextField(e.target),
  },
];

/**
 * Run the hooks on their keys, anywhere on the page. With a modal dialog open the keys are
 * the dialog's (Esc closes it, arrows move in its list), except Ctrl+K: its hook decides,
 * so the browser's own Ctrl+K never takes over.
 * @param {ShortcutHooks} hooks
 */
export function listenForShortcuts(hooks) {
  document.addEventListener('keydown', (event) => {
    // isComposing: the keys belong to an IME composition (Japanese, Chinese, …).
    if (event.defaultPrevented || event.isComposing) return;
    const shortcut = SHORTCUTS.find((s) => s.matches?.(event));
    if (!shortcut?.action) return;
    if (shortcut.action !== 'search' && document.querySelector('dialog[open]')) return;
    if (hooks[shortcut.action](event)) event.preventDefault();
  });
}
