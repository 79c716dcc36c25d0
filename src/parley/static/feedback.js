// Rating a reply: what "Good response" and "Bad response" (actions.js) do, loaded on the
// first click. A click rates the reply at once (keeping its comment, if it had one) and
// offers a comment: a small form under the reply, "Comment (optional)" with Send feedback
// and Skip (Esc). A click on the pressed button takes the rating back. The buttons show
// only what the server has stored: each changes once its request has succeeded; a failure
// is said under the reply and changes nothing.

import * as api from './api.js';
import { describeError, h } from './dom.js';

/** The comment's limit, as the server's (chat/feedback.py). */
const MAX_COMMENT_CHARS = 4000;

/**
 * Each reply's comment as stored, once one of its buttons was clicked (before that, the one
 * the list gave: actions.js passes it along).
 * @type {WeakMap<HTMLElement, string | null>}
 */
const _comments = new WeakMap();

/**
 * "Good response" or "Bad response" was clicked. Its `aria-pressed` and its sibling's are the
 * reply's rating as stored; `data-rating` the rating the button gives.
 * @param {HTMLButtonElement} button
 * @param {HTMLElement} element        the reply's article
 * @param {string} conversationId
 * @param {string} id                  the reply's id
 * @param {string | null} listed       its comment, as the message list gave it
 */
export async function rateClicked(button, element, conversationId, id, listed) {
  if (button.getAttribute('aria-busy') === 'true') return;
  const rating = button.dataset.rating === 'good' ? 'good' : 'bad';
  const taking = button.getAttribute('aria-pressed') === 'true';
  if (!_comments.has(element)) _comments.set(element, listed);
  _showError(element, null);
  button.setAttribute('aria-busy', 'true');
  try {
    if (taking) {
      await api.clearRating(conversationId, id);
      _comments.set(element, null);
    } else {
      await api.rateReply(conversationId, id, rating, _comments.get(element) ?? null);
    }
  } catch (error) {
    _showError(element, `Could not save your feedback. ${describeError(error)}`);
    return;
  } finally {
    button.removeAttribute('aria-busy');
  }
  for (const other of button.parentElement?.querySelectorAll('.msg__rate') ?? []) {
    other.setAttribute('aria-pressed', String(!taking && other === button));
  }
  _closeForm(element);
  if (!taking) _openForm(button, element, conversationId, id, rating);
}

/**
 * The comment form under the reply, with the focus in its text box.
 * @param {HTMLButtonElement} button  the rating's button, where the focus goes back
 * @param {HTMLElement} element
 * @param {string} conversationId
 * @param {string} id
 * @param {'good' | 'bad'} rating
 */
function _openForm(button, element, conversationId, id, rating) {
  const input = h('textarea', { class: 'feedback__input', id: `feedback-${id}`, rows: '2', maxlength: String(MAX_COMMENT_CHARS) });
  input.value = _comments.get(element) ?? '';
  const error = h('p', { class: 'form-error feedback__error', role: 'alert', hidden: true });
  const skip = h('button', { type: 'button', class: 'btn btn--small' }, 'Skip');
  const send = h('button', { type: 'submit', class: 'btn btn--primary btn--small' }, 'Send feedback');
  const form = h(
    'form',
    { class: 'feedback', 'aria-label': `Feedback: ${rating} response` },
    h('label', { class: 'feedback__label', for: input.id }, 'Comment (optional)'),
    input,
    error,
    h('div', { class: 'feedback__buttons' }, skip, send),
  );
  const close = () => {
    form.remove();
    button.focus();
  };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (send.disabled) return;
    const comment = input.value.trim() || null;
    send.disabled = true;
    try {
      await api.rateReply(conversationId, id, rating, comment);
    } catch (failure) {
      error.textContent = describeError(failure);
      error.hidden = false;
      send.disabled = false;
      return;
    }
    _comments.set(element, comment);
    close();
  });
  input.addEventListener('keydown', (event) => {
    // As in the composer: Enter sends, Shift+Enter is a new line, Esc skips.
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    } else if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation(); // Esc here skips the comment, nothing else (not the reply)
      close();
    }
  });
  skip.addEventListener('click', close);
  element.append(form);
  input.focus();
}

/** @param {HTMLElement} element */
function _closeForm(element) {
  element.querySelector(':scope > .feedback')?.remove();
}

/**
 * Say (or, with null, stop saying) under the reply that a rating could not be saved.
 * @param {HTMLElement} element
 * @param {string | null} text
 */
function _showError(element, text) {
  const shown = element.querySelector(':scope > .feedback-error');
  if (text === null) {
    shown?.remove();
    return;
  }
  const alert = shown ?? h('p', { class: 'form-error feedback-error', role: 'alert' });
  alert.textContent = text;
  if (!shown) element.append(alert);
}
