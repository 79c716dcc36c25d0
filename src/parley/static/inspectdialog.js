// The Inspect dialog of a reply: what a developer needs to debug an agent. The model asked
// for and the models that answered, the instructions and system prompt; each model request
// (when it started, its time to first token and duration, its tokens); each tool call (its
// arguments, result and duration); the usage; and the turn's raw Pydantic AI messages as
// JSON, with Copy. A modal <dialog> made on first use: Esc and Close close it, and the focus
// goes back to the button that opened it. Everything the server sends is shown as text.

import { requestJson } from './api.js';
import { writeClipboard } from './copy.js';
import { describeError, h } from './dom.js';
import { Announcer, showError } from './sharesdialog.js';
import { dollars } from './usage.js';

/**
 * @typedef {object} InspectedRun
 * @property {string} started_at
 * @property {number | null} [duration_ms]
 * @property {string | null} [status]
 */

/**
 * @typedef {object} InspectedRequest
 * @property {number} number
 * @property {number} run
 * @property {string | null} model
 * @property {string | null} provider
 * @property {string | null} started_at
 * @property {number | null} first_token_ms
 * @property {number | null} duration_ms
 * @property {boolean | null} streamed
 * @property {number | null} input_tokens
 * @property {number | null} output_tokens
 * @property {number | null} cache_read_tokens
 * @property {string | null} finish_reason
 * @property {string | null} outcome
 * @property {string | null} error
 * @property {boolean} responded
 */

/**
 * @typedef {object} InspectedToolCall
 * @property {string} id
 * @property {string} name
 * @property {string} args
 * @property {number} args_chars
 * @property {boolean} args_truncated
 * @property {string | null} result
 * @property {number | null} result_chars
 * @property {boolean} result_truncated
 * @property {string | null} outcome
 * @property {boolean} native
 * @property {string | null} approval
 * @property {string | null} started_at
 * @property {number | null} duration_ms
 * @property {number | null} run
 */

/**
 * @typedef {object} InspectedUsage
 * @property {number} input_tokens
 * @property {number} output_tokens
 * @property {number} cache_read_tokens
 * @property {number} reasoning_tokens
 * @property {number | null} cost
 * @property {number} requests
 * @property {number} tool_calls
 */

/**
 * GET /api/conversations/{id}/messages/{message_id}/inspect
 * @typedef {object} Inspection
 * @property {string} message_id
 * @property {string} status
 * @property {string | null} error
 * @property {string | null} model
 * @property {string[]} response_models
 * @property {string[]} instructions
 * @property {string[]} system_prompts
 * @property {boolean} timings_recorded
 * @property {InspectedRun[]} runs
 * @property {InspectedRequest[]} requests
 * @property {InspectedToolCall[]} tool_calls
 * @property {number} dropped_requests
 * @property {number} dropped_tool_calls
 * @property {InspectedUsage} usage
 * @property {unknown[]} messages
 * @property {string | null} messages_error
 */

/**
 * @typedef {object} InspectElements
 * @property {HTMLDialogElement} dialog
 * @property {HTMLButtonElement} close
 * @property {HTMLElement} error     a failure to load (role="alert")
 * @property {HTMLElement} loading   "Loading…"
 * @property {HTMLElement} content   the sections
 * @property {Announcer} status      "Copied" (the page's own region is inert behind the dialog)
 */

const NOT_RECORDED = 'not recorded';
const TIME_FORMAT = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  fractionalSecondDigits: 3,
});

/** @type {InspectElements | null} */
let _elements = null;
/** @type {HTMLElement | null} */
let _opener = null;
/** Bumped on each opening and closing: only the newest answer is shown. */
let _serial = 0;

/**
 * Open the Inspect dialog on a reply and load what the server knows of it.
 * @param {string} conversationId
 * @param {string} messageId  a reply (assistant message)
 * @param {HTMLElement} opener  gets the focus back when the dialog closes
 * @returns {Promise<void>}
 */
export async function openInspect(conversationId, messageId, opener) {
  const el = _dialog();
  if (el.dialog.open) return;
  const serial = ++_serial;
  _opener = opener;
  showError(el.error, null);
  el.status.say('');
  el.content.replaceChildren();
  el.loading.hidden = false;
  el.dialog.setAttribute('aria-busy', 'true');
  el.dialog.showModal();
  el.close.focus();
  const path = `/api/conversations/${encodeURIComponent(conversationId)}/messages/${encodeURIComponent(messageId)}/inspect`;
  try {
    /** @type {Inspection} */
    const found = await requestJson('GET', path);
    if (serial !== _serial) return;
    el.content.replaceChildren(..._sections(found, el.status));
  } catch (error) {
    if (serial === _serial) showError(el.error, `Could not inspect this reply. ${describeError(error)}`);
  } finally {
    if (serial === _serial) {
      el.loading.hidden = true;
      el.dialog.removeAttribute('aria-busy');
    }
  }
}

/** @returns {InspectElements} the dialog, made and added to the page on first use */
function _dialog() {
  if (_elements?.dialog.isConnected) return _elements;
  const close = h('button', { type: 'button', class: 'btn btn--quiet btn--small' }, 'Close');
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const loading = h('p', { class: 'dialog__empty' }, 'Loading…');
  const content = h('div', { class: 'inspect' });
  // Never display: none, so that what it says is announced.
  const region = h('p', { class: 'inspect__status', role: 'status' });
  const dialog = h(
    'dialog',
    { class: 'dialog dialog--inspect', 'aria-labelledby': 'inspect-title', 'data-testid': 'inspect-dialog' },
    h(
      'div',
      { class: 'dialog__body' },
      h('header', { class: 'dialog__head' }, h('h2', { class: 'dialog__title', id: 'inspect-title' }, 'Inspect reply'), close),
      error,
      loading,
      content,
      region,
    ),
  );
  close.addEventListener('click', () => dialog.close());
  // Esc is the dialog's own "cancel": it closes it, and ends up in the 'close' event too.
  dialog.addEventListener('close', _closed);
  document.body.append(dialog);
  _elements = { dialog, close, error, loading, content, status: new Announcer(region) };
  return _elements;
}

function _closed() {
  _serial++; // drop a load still in flight
  if (_elements) _elements.content.replaceChildren(); // the raw JSON may be large
  const opener = _opener;
  _opener = null;
  if (opener?.isConnected) opener.focus();
}

// -- the sections -------------------------------------------------------------------------

/**
 * @param {Inspection} found
 * @param {Announcer} status
 * @returns {HTMLElement[]}
 */
function _sections(found, status) {
  return [
    _section('inspect-model', 'Model and instructions', _model(found)),
    _section('inspect-requests', 'Requests', _requests(found)),
    _section('inspect-tools', 'Tool calls', _tools(found)),
    _section('inspect-usage', 'Usage', _usage(found.usage)),
    _section('inspect-raw', 'Raw messages', _raw(found, status)),
  ];
}

/**
 * @param {string} id
 * @param {string} title
 * @param {Node[]} children
 * @returns {HTMLElement}
 */
function _section(id, title, children) {
  return h(
    'section',
    { class: 'inspect__section', 'aria-labelledby': id, 'data-testid': id },
    h('h3', { class: 'inspect__heading', id }, title),
    ...children,
  );
}

/**
 * A list of names and values; a value of null leaves its row out.
 * @param {[string, string | Node | null][]} rows
 * @returns {HTMLDListElement}
 */
function _facts(rows) {
  const list = h('dl', { class: 'inspect__facts' });
  for (const [name, value] of rows) {
    if (value === null) continue;
    list.append(h('dt', {}, name), h('dd', {}, value));
  }
  return list;
}

/**
 * Text that may be long (a prompt, JSON): a box of its own, which the keyboard can scroll.
 * @param {string} text
 * @param {string} label  its accessible name
 * @param {string} [extra]  another class
 * @returns {HTMLPreElement}
 */
function _box(text, label, extra = '') {
  // role makes the name valid (a name on a plain `pre` is ignored).
  return h('pre', { class: `inspect__pre ${extra}`.trim(), tabindex: '0', role: 'group', 'aria-label': label }, text);
}

/**
 * @param {Inspection} found
 * @returns {Node[]}
 */
function _model(found) {
  const answered = found.response_models.filter((name) => name !== found.model);
  /** @type {HTMLElement[]} */
  const out = [
    _facts([
      ['Model', found.model ?? 'the agent’s own'],
      ['Answered by', answered.length ? answered.join(', ') : null],
      ['Status', found.error ? `${found.status}: ${found.error}` : found.status],
      ['Runs', found.runs.length > 1 ? _runs(found.runs) : null],
    ]),
  ];
  if (found.system_prompts.length) {
    out.push(h('h4', { class: 'inspect__subheading' }, 'System prompt'));
    out.push(...found.system_prompts.map((text, i) => _box(text, `System prompt ${i + 1}`)));
  }
  out.push(h('h4', { class: 'inspect__subheading' }, 'Instructions'));
  if (found.instructions.length) {
    out.push(...found.instructions.map((text, i) => _box(text, `Instructions ${i + 1}`)));
  } else {
    out.push(h('p', { class: 'dialog__empty' }, 'None.'));
  }
  return out;
}

/**
 * A reply's runs when it paused for approval: "1: 1.2 s, awaiting approval · 2: …".
 * @param {InspectedRun[]} runs
 * @returns {string}
 */
function _runs(runs) {
  return runs
    .map((run, i) => `${i + 1}: ${_duration(run.duration_ms ?? null, '—')}, ${(run.status ?? 'unfinished').replace('_', ' ')}`)
    .join(' · ');
}

/**
 * @param {Inspection} found
 * @returns {Node[]}
 */
function _requests(found) {
  const out = [];
  if (!found.timings_recorded) {
    out.push(h('p', { class: 'dialog__empty' }, 'Timings were not recorded for this reply: it was saved before Parley recorded them.'));
  }
  if (!found.requests.length) {
    out.push(h('p', { class: 'dialog__empty' }, 'No model requests.'));
    return out;
  }
  const missing = found.timings_recorded ? '—' : NOT_RECORDED;
  const head = ['#', 'Model', 'Started', 'Time to first token', 'Duration', 'Input tokens', 'Output tokens', 'Outcome'];
  const table = h(
    'table',
    { class: 'inspect__table', 'data-testid': 'inspect-requests-table' },
    h('thead', {}, h('tr', {}, ...head.map((name) => h('th', { scope: 'col' }, name)))),
    h(
      'tbody',
      {},
      ...found.requests.map((request) =>
        h(
          'tr',
          {},
          h('th', { scope: 'row' }, String(request.number)),
          h('td', {}, request.model ?? '—'),
          h('td', {}, request.started_at ? _clock(request.started_at) : missing),
          h('td', { class: 'inspect__num' }, _duration(request.first_token_ms, missing)),
          h('td', { class: 'inspect__num' }, _duration(request.duration_ms, missing)),
          h('td', { class: 'inspect__num' }, _count(request.input_tokens)),
          h('td', { class: 'inspect__num' }, _count(request.output_tokens)),
          h('td', {}, _outcome(request)),
        ),
      ),
    ),
  );
  // A wide table scrolls sideways in its own box, which the keyboard can reach.
  out.push(h('div', { class: 'inspect__scroll', tabindex: '0', role: 'group', 'aria-labelledby': 'inspect-requests' }, table));
  if (found.dropped_requests) {
    out.push(h('p', { class: 'dialog__empty' }, `${_n(found.dropped_requests)} more requests were made; their timings were not kept.`));
  }
  return out;
}

/**
 * @param {InspectedRequest} request
 * @returns {string}
 */
function _outcome(request) {
  let text = request.outcome ?? '—';
  if (request.error) text += ` (${request.error})`;
  if (!request.responded) text += ', no response kept';
  else if (request.finish_reason && request.finish_reason !== 'stop') text += ` · ${request.finish_reason}`;
  return text;
}

/**
 * @param {Inspection} found
 * @returns {Node[]}
 */
function _tools(found) {
  if (!found.tool_calls.length) return [h('p', { class: 'dialog__empty' }, 'No tool calls.')];
  const missing = found.timings_recorded ? 'not timed' : NOT_RECORDED;
  const list = h('ol', { class: 'inspect__tools', 'data-testid': 'inspect-tool-calls' });
  for (const call of found.tool_calls) {
    const facts = [
      call.native ? 'run by the provider' : `took ${_duration(call.duration_ms, missing)}`,
      call.outcome ?? 'no result',
    ];
    if (call.approval) facts.push(`approval: ${call.approval.replace('_', ' ')}`);
    const item = h(
      'li',
      { class: 'inspect__tool' },
      h('p', { class: 'inspect__tool-head' }, h('code', { class: 'inspect__tool-name' }, call.name), ` · ${facts.join(' · ')}`),
      h('p', { class: 'inspect__label' }, 'Arguments'),
      _box(_pretty(call.args, call.args_truncated), `Arguments of ${call.name}`),
    );
    if (call.args_truncated) item.append(_cut(call.args.length, call.args_chars));
    item.append(h('p', { class: 'inspect__label' }, 'Result'));
    if (call.result === null) {
      item.append(h('p', { class: 'dialog__empty' }, 'None.'));
    } else {
      item.append(_box(call.result, `Result of ${call.name}`));
      if (call.result_truncated) item.append(_cut(call.result.length, call.result_chars ?? call.result.length));
    }
    list.append(item);
  }
  /** @type {HTMLElement[]} */
  const out = [list];
  if (found.dropped_tool_calls) {
    out.push(h('p', { class: 'dialog__empty' }, `${_n(found.dropped_tool_calls)} more tool calls were made; their timings were not kept.`));
  }
  return out;
}

/**
 * @param {number} shown
 * @param {number} whole
 * @returns {HTMLElement}
 */
function _cut(shown, whole) {
  return h('p', { class: 'dialog__empty' }, `Showing the first ${_n(shown)} of ${_n(whole)} characters: the raw messages hold all of it.`);
}

/**
 * @param {InspectedUsage} usage
 * @returns {Node[]}
 */
function _usage(usage) {
  return [
    _facts([
      ['Input tokens', _n(usage.input_tokens)],
      ['Output tokens', _n(usage.output_tokens)],
      ['Cached input tokens', usage.cache_read_tokens ? _n(usage.cache_read_tokens) : null],
      ['Reasoning tokens', usage.reasoning_tokens ? _n(usage.reasoning_tokens) : null],
      ['Cost', usage.cost == null ? '— (no known price)' : dollars(usage.cost)],
      ['Model requests', _n(usage.requests)],
      ['Tool calls', _n(usage.tool_calls)],
    ]),
  ];
}

/**
 * @param {Inspection} found
 * @param {Announcer} status
 * @returns {Node[]}
 */
function _raw(found, status) {
  const json = JSON.stringify(found.messages, null, 2);
  const copy = h('button', { type: 'button', class: 'btn btn--small', 'data-testid': 'inspect-copy' }, 'Copy JSON');
  copy.addEventListener('click', () => {
    writeClipboard(json).then(
      () => status.say('Copied the raw messages.'),
      () => status.say('Could not copy: select the text and copy it.'),
    );
  });
  /** @type {HTMLElement[]} */
  const out = [
    h(
      'p',
      { class: 'dialog__intro' },
      'The turn’s Pydantic AI messages (',
      h('code', {}, 'ModelMessagesTypeAdapter'),
      ' JSON): the prompt’s request, then what the run added. Attached files’ bytes are left out.',
    ),
  ];
  if (found.messages_error) out.push(h('p', { class: 'form-error' }, found.messages_error));
  out.push(h('div', { class: 'dialog__buttons inspect__raw-buttons' }, copy));
  out.push(_box(json, 'Raw messages (JSON)', 'inspect__pre--raw'));
  return out;
}

// -- formatting ----------------------------------------------------------------------------

/** @param {number} value */
const _n = (value) => value.toLocaleString();

/**
 * @param {number | null} value
 * @returns {string}
 */
const _count = (value) => (value == null ? '—' : _n(value));

/**
 * A duration: "840 ms", "1.24 s", "2 min 5 s".
 * @param {number | null | undefined} ms
 * @param {string} missing  what stands for none
 * @returns {string}
 */
function _duration(ms, missing) {
  if (ms == null) return missing;
  if (ms < 1000) return `${Math.round(ms).toLocaleString()} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

/**
 * A time of day to the millisecond, in a <time> holding the ISO form.
 * @param {string} iso
 * @returns {HTMLTimeElement}
 */
function _clock(iso) {
  const date = new Date(iso);
  return h('time', { datetime: iso }, Number.isNaN(date.getTime()) ? iso : TIME_FORMAT.format(date));
}

/**
 * Arguments as indented JSON when they are whole JSON, else as they came.
 * @param {string} text
 * @param {boolean} truncated
 * @returns {string}
 */
function _pretty(text, truncated) {
  if (truncated) return text;
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
