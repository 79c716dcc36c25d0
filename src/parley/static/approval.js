// A tool call that needs the user's yes or no (chat/approvals.py on the server): what was
// decided, or, while the reply waits, Approve and Deny, a reason for a denial, and the
// arguments to edit as JSON before approving. Arguments are always shown as text.

import { h } from './dom.js';

/** @typedef {import('./api.js').Approval} Approval */
/** @typedef {import('./api.js').Decision} Decision */

/**
 * @param {Approval} approval
 * @returns {string}
 */
function _decided(approval) {
  const when = approval.at ? new Date(approval.at).toLocaleString() : '';
  const who = approval.by ? ` by ${approval.by}` : '';
  switch (approval.state) {
    case 'approved':
      return `Approved${who}${when ? ` on ${when}` : ''}${approval.args ? ', with edited arguments' : ''}.`;
    case 'denied':
      return `Denied${who}${when ? ` on ${when}` : ''}${approval.reason ? `: ${approval.reason}` : '.'}`;
    case 'not_run':
      return 'Not run: a new message was sent instead.';
    default:
      return 'Waiting for your approval.';
  }
}

/**
 * The approval part of a tool call card.
 * @param {string} toolCallId
 * @param {string} toolName
 * @param {string} args  the model's arguments, JSON text
 * @param {Approval} approval
 * @param {((decision: Decision) => void) | null} answer  null: nothing to answer (any more)
 * @returns {HTMLElement}
 */
export function approvalBox(toolCallId, toolName, args, approval, answer) {
  const status = h('p', { class: 'approval__status', 'data-testid': 'approval-status' }, _decided(approval));
  const box = h('div', { class: `approval approval--${approval.state}`, role: 'group', 'aria-label': `Approval of ${toolName}` }, status);
  if (approval.state !== 'pending' || answer === null) return box;

  const reasonId = `reason-${toolCallId}`;
  const argsId = `args-${toolCallId}`;
  const reason = h('input', { class: 'field__input approval__reason', id: reasonId, type: 'text', maxlength: '2000', autocomplete: 'off' });
  const edited = h('textarea', { class: 'field__input approval__args', id: argsId, rows: '5', spellcheck: 'false' });
  edited.value = _pretty(args);
  const error = h('p', { class: 'form-error approval__error', role: 'alert', hidden: '' });
  const editor = h(
    'details',
    { class: 'approval__edit' },
    h('summary', {}, 'Edit arguments'),
    h('label', { class: 'field__label', for: argsId }, 'Arguments (JSON)'),
    edited,
  );
  const approve = h('button', { type: 'button', class: 'btn btn--primary btn--small' }, 'Approve');
  const deny = h('button', { type: 'button', class: 'btn btn--small' }, 'Deny');
  const buttons = h('div', { class: 'approval__buttons' }, approve, deny);
  box.append(
    editor,
    h('label', { class: 'field__label', for: reasonId }, 'Reason for a denial (optional)'),
    reason,
    error,
    buttons,
  );

  const done = () => {
    approve.disabled = deny.disabled = true;
  };
  approve.addEventListener('click', () => {
    /** @type {Decision} */
    const decision = { tool_call_id: toolCallId, approve: true };
    if (editor.open && edited.value.trim() !== _pretty(args).trim()) {
      try {
        const parsed = JSON.parse(edited.value);
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
        decision.args = parsed;
      } catch {
        error.textContent = 'The arguments must be a JSON object.';
        error.hidden = false;
        edited.focus();
        return;
      }
    }
    done();
    answer(decision);
  });
  deny.addEventListener('click', () => {
    done();
    answer({ tool_call_id: toolCallId, approve: false, reason: reason.value.trim() || null });
  });
  return box;
}

/**
 * @param {string} args
 * @returns {string}
 */
function _pretty(args) {
  try {
    return JSON.stringify(JSON.parse(args), null, 2);
  } catch {
    return args;
  }
}
