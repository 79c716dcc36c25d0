// The controls under a message: the version switcher ("Previous version", "2 / 3",
// "Next version"), Copy (replies), Edit (user messages) or Regenerate (replies), and
// "Fork from here"; and the inline form that edits a prompt. What they do is the chat's
// business: they only call the MessageActions they are given.
//
// A saved reply also has "Good response" / "Bad response" (its owner's rating, pressed when
// given; feedback.js does the rest, loaded on the first click) and Inspect (what the agent
// did for it: inspectdialog.js, loaded on click).
//
// Every control that changes the conversation has the class `msg__action`: the chat
// disables them all while a reply is being generated (the server would answer 409).
// A version button at the end of the list also carries `data-end`, so it stays disabled.
// Copy, the ratings and Inspect change nothing in the conversation, so they are not.

import { copyButton } from './copy.js';
import { h, icon } from './dom.js';

/** @typedef {import('./api.js').Message} Message */

/**
 * What the controls of a message do, given the message's element.
 * @typedef {object} MessageActions
 * @property {(element: HTMLElement, message: Message) => void} edit  open the inline editor
 * @property {(element: HTMLElement) => void} regenerate               a new version of this reply
 * @property {(element: HTMLElement) => void} fork                     a new conversation up to here
 * @property {(element: HTMLElement, siblingId: string, direction: 'previous' | 'next') => void} version
 * @property {(element: HTMLElement, decisions: import('./api.js').Decision[]) => void} answer  answer a reply's pending tool calls
 */

/**
 * An icon button whose name is its aria-label (the text is not visible: the title
 * attribute shows it on hover).
 * @param {Parameters<typeof icon>[0]} name
 * @param {string} label
 * @param {string} className
 * @param {() => void} onClick
 * @returns {HTMLButtonElement}
 */
function _iconButton(name, label, className, onClick) {
  const button = h('button', { type: 'button', class: `msg__action ${className}`, 'aria-label': label, title: label }, icon(name));
  button.addEventListener('click', onClick);
  return button;
}

/**
 * The toolbar of a saved message.
 * @param {Message} message
 * @param {HTMLElement} element  the message's article, handed to the actions
 * @param {MessageActions} actions
 * @param {() => string | Promise<string>} [source]  the text Copy copies (no Copy without)
 * @returns {HTMLElement}
 */
export function toolbar(message, element, actions, source) {
  const bar = h('div', { class: 'msg__toolbar' });
  const siblings = message.siblings ?? [message.id];
  if (siblings.length > 1) bar.append(_versions(siblings, message.id, element, actions));
  const buttons = h('div', { class: 'msg__buttons' });
  if (source) buttons.append(copyButton({ label: 'Copy', className: 'msg__copy', source }));
  if (message.role === 'user') {
    buttons.append(_iconButton('pencil', 'Edit', 'msg__edit', () => actions.edit(element, message)));
  } else {
    buttons.append(_iconButton('retry', 'Regenerate', 'msg__regenerate', () => actions.regenerate(element)));
  }
  buttons.append(_iconButton('fork', 'Fork from here', 'msg__fork', () => actions.fork(element)));
  if (message.role === 'assistant') buttons.append(..._replyTools(message, element));
  bar.append(buttons);
  return bar;
}

/**
 * A toolbar button that changes nothing in the conversation (so never disabled while a
 * reply is generated), named by its aria-label like the others; a click loads `module`
 * (only then: the first load stays small) and hands it to `use`.
 * @template T
 * @param {Parameters<typeof icon>[0]} name
 * @param {string} label
 * @param {string} className
 * @param {() => Promise<T>} module
 * @param {(loaded: T, button: HTMLButtonElement) => unknown} use
 * @returns {HTMLButtonElement}
 */
function _toolButton(name, label, className, module, use) {
  const button = h('button', { type: 'button', class: `msg__tool ${className}`, 'aria-label': label, title: label }, icon(name));
  button.addEventListener('click', () => {
    module()
      .then((loaded) => use(loaded, button))
      .catch((error) => console.warn('parley: could not load', label, error));
  });
  return button;
}

/**
 * "Good response" and "Bad response" (pressed: the rating the reply has) and Inspect, for a
 * reply. Its id is read from its element when clicked: a streamed reply's id is settled by
 * then.
 * @param {Message} message
 * @param {HTMLElement} element
 * @returns {HTMLElement[]}
 */
function _replyTools(message, element) {
  const saved = /** @type {import('./api.js').RatedMessage} */ (message).feedback;
  const id = () => element.getAttribute('data-id') ?? message.id;
  /**
   * @param {'good' | 'bad'} rating
   * @param {string} label
   */
  const rate = (rating, label) => {
    const button = _toolButton(`thumbs-${rating === 'good' ? 'up' : 'down'}`, label, 'msg__rate', () => import('./feedback.js'), (m, b) =>
      m.rateClicked(b, element, message.conversation_id, id(), saved?.comment ?? null),
    );
    button.dataset.rating = rating;
    button.setAttribute('aria-pressed', String(saved?.rating === rating));
    return button;
  };
  const inspect = _toolButton('inspect', 'Inspect', 'msg__inspect', () => import('./inspectdialog.js'), (m, b) =>
    m.openInspect(message.conversation_id, id(), b),
  );
  return [rate('good', 'Good response'), rate('bad', 'Bad response'), inspect];
}

/**
 * "‹ 2 / 3 ›": the versions at this position of the conversation, oldest first.
 * @param {string[]} siblings
 * @param {string} id
 * @param {HTMLElement} element
 * @param {MessageActions} actions
 * @returns {HTMLElement}
 */
function _versions(siblings, id, element, actions) {
  const index = Math.max(0, siblings.indexOf(id));
  /**
   * @param {'previous' | 'next'} direction
   * @param {string} label
   * @param {number} target
   */
  const step = (direction, label, target) => {
    const sibling = siblings[target];
    const button = _iconButton(direction, label, `versions__${direction}`, () => {
      if (sibling) actions.version(element, sibling, direction);
    });
    if (!sibling) {
      button.setAttribute('data-end', '');
      button.disabled = true;
    }
    return button;
  };
  return h(
    'div',
    { class: 'versions', role: 'group', 'aria-label': 'Versions' },
    step('previous', 'Previous version', index - 1),
    h('span', { class: 'versions__position' }, `${index + 1} / ${siblings.length}`),
    step('next', 'Next version', index + 1),
  );
}

/**
 * @typedef {object} EditForm
 * @property {HTMLFormElement} element
 * @property {HTMLTextAreaElement} input
 * @property {(text: string | null) => void} showError  null hides it
 */

/**
 * Swap a user message's text and toolbar for the inline editor, with the focus in it.
 * Cancel (or Esc) puts them back, and the focus on Edit; sending is the caller's, which
 * replaces the whole message once the server has taken the new version.
 * @param {HTMLElement} element  the user message
 * @param {string} text
 * @param {(text: string, form: EditForm) => void} send
 * @returns {EditForm | null}  null if the editor is open already
 */
export function openEditor(element, text, send) {
  if (element.querySelector('.edit')) return null;
  const shown = [...element.children].filter((c) => c instanceof HTMLElement);
  /** @type {EditForm} */
  const form = _editForm(text, {
    send: (value) => send(value, form),
    cancel: () => {
      form.element.remove();
      for (const part of shown) part.hidden = false;
      const edit = element.querySelector('.msg__edit');
      if (edit instanceof HTMLElement) edit.focus();
    },
  });
  for (const part of shown) part.hidden = true;
  element.append(form.element);
  form.input.focus();
  form.input.setSelectionRange(text.length, text.length);
  return form;
}

/**
 * The inline editor of a prompt: Enter (or Send) sends, Shift+Enter is a newline, Esc
 * (or Cancel) cancels, as in the composer.
 * @param {string} text
 * @param {{send: (text: string) => void, cancel: () => void}} hooks
 * @returns {EditForm}
 */
function _editForm(text, hooks) {
  const input = h('textarea', { class: 'edit__input', 'aria-label': 'Edit message', rows: '3' });
  input.value = text;
  const send = h('button', { type: 'submit', class: 'btn btn--primary btn--small msg__action' }, 'Send');
  const cancel = h('button', { type: 'button', class: 'btn btn--small' }, 'Cancel');
  const error = h('p', { class: 'form-error edit__error', role: 'alert', hidden: true });
  const element = h('form', { class: 'edit' }, input, error, h('div', { class: 'edit__buttons' }, cancel, send));
  element.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!send.disabled && input.value.trim()) hooks.send(input.value);
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      element.requestSubmit();
    } else if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation(); // Esc here cancels the edit, nothing else (not the reply)
      hooks.cancel();
    }
  });
  cancel.addEventListener('click', () => hooks.cancel());
  return {
    element,
    input,
    showError(message) {
      error.textContent = message ?? '';
      error.hidden = message === null;
    },
  };
}
