// The HTTP API of docs/protocol.md: JSON requests, and the two event streams (send a
// message, reattach to a run) read with fetch() + ReadableStream.

import { SseParser } from './sse.js';

/**
 * @typedef {object} Info
 * @property {string} version
 * @property {string} model
 * @property {string | null} [model_notice] what to say about the model (e.g. the bundled one is tiny)
 * @property {number} max_prompt_chars
 */

/**
 * @typedef {object} Conversation
 * @property {string} id
 * @property {string | null} title
 * @property {string} created_at
 * @property {string} updated_at
 * @property {string | null} active_run_id
 */

/**
 * @typedef {{type: 'text', text: string, html: string | null}
 *   | {type: 'thinking', text: string}
 *   | {type: 'tool_call', tool_call_id: string, tool_name: string, args: string}
 *   | {type: 'tool_result', tool_call_id: string, tool_name: string, content: string}
 * } Part
 */

/** @typedef {'complete' | 'generating' | 'stopped' | 'error' | 'interrupted'} Status */

/** @typedef {{input_tokens: number, output_tokens: number}} Usage */

/**
 * @typedef {object} Message
 * @property {string} id
 * @property {string} conversation_id
 * @property {string | null} parent_id
 * @property {'user' | 'assistant'} role
 * @property {string} text
 * @property {Part[]} parts
 * @property {Status} status
 * @property {string | null} error
 * @property {string | null} model
 * @property {Usage | null} usage
 * @property {string | null} run_id
 * @property {string} created_at
 */

/**
 * @template T
 * @typedef {{items: T[], next_cursor: string | null}} Page
 */

/**
 * @typedef {object} Done
 * @property {string} id
 * @property {Status} status
 * @property {string | null} error
 * @property {Usage | null} usage
 * @property {string | null} model
 */

/**
 * One event of a run's stream; `id` increases by one per event of the run.
 * @typedef {{type: 'user', id: number, data: {message: Message}}
 *   | {type: 'start', id: number, data: {message: Message, run_id: string}}
 *   | {type: 'text', id: number, data: {d: string}}
 *   | {type: 'block', id: number, data: {html: string, n: number}}
 *   | {type: 'thinking', id: number, data: {d: string}}
 *   | {type: 'tool_call', id: number, data: {tool_call_id: string, tool_name: string, args: string}}
 *   | {type: 'tool_result', id: number, data: {tool_call_id: string, tool_name: string, content: string}}
 *   | {type: 'error', id: number, data: {detail: string}}
 *   | {type: 'done', id: number, data: Done}
 * } RunEvent
 */

const EVENT_TYPES = new Set([
  'user', 'start', 'text', 'block', 'thinking', 'tool_call', 'tool_result', 'error', 'done',
]);

/** A 4xx/5xx answer, carrying the server's `detail` sentence as its message. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} detail
   */
  constructor(status, detail) {
    super(detail);
    this.name = 'ApiError';
    this.status = status;
  }
}

/**
 * Send a request; resolve with the response if it is 2xx, else throw an ApiError.
 * Request bodies are always JSON: the server accepts nothing else on POST/PATCH, which
 * keeps plain cross-site form posts from reaching it.
 * @param {string} method
 * @param {string} path
 * @param {{body?: unknown, accept?: string, headers?: Record<string, string>, signal?: AbortSignal}} [options]
 * @returns {Promise<Response>}
 */
async function _request(method, path, options = {}) {
  /** @type {Record<string, string>} */
  const headers = { Accept: options.accept ?? 'application/json', ...options.headers };
  /** @type {RequestInit} */
  const init = { method, headers, cache: 'no-store', signal: options.signal };
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(options.body);
  }
  const response = await fetch(path, init);
  if (!response.ok) throw new ApiError(response.status, await _detail(response));
  return response;
}

/**
 * The `detail` of an error answer. Be lenient: a proxy in front of Parley may answer
 * with HTML, and FastAPI's own validation errors carry a list of objects.
 * @param {Response} response
 * @returns {Promise<string>}
 */
async function _detail(response) {
  const fallback = `The server answered ${response.status} ${response.statusText}`.trim() + '.';
  try {
    /** @type {unknown} */
    const body = await response.json();
    if (body && typeof body === 'object' && 'detail' in body) {
      const { detail } = body;
      if (typeof detail === 'string' && detail) return detail;
      if (Array.isArray(detail)) {
        const texts = detail.map((d) => (d && typeof d === 'object' && 'msg' in d ? String(d.msg) : ''));
        const joined = texts.filter(Boolean).join(' ');
        if (joined) return joined;
      }
    }
  } catch {
    // not JSON: use the fallback
  }
  return fallback;
}

/**
 * @template T
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<T>}
 */
async function _json(method, path, body) {
  const response = await _request(method, path, { body });
  return /** @type {Promise<T>} */ (response.json());
}

/** @param {string} id */
const _conv = (id) => `/api/conversations/${encodeURIComponent(id)}`;

/** @returns {Promise<Info>} */
export const getInfo = () => _json('GET', '/api/info');

/**
 * @param {string | null} [cursor]
 * @returns {Promise<Page<Conversation>>}
 */
export function listConversations(cursor) {
  const query = new URLSearchParams({ limit: '50' });
  if (cursor) query.set('cursor', cursor);
  return _json('GET', `/api/conversations?${query}`);
}

/** @returns {Promise<Conversation>} */
export const createConversation = () => _json('POST', '/api/conversations', {});

/**
 * @param {string} id
 * @returns {Promise<Conversation>}
 */
export const getConversation = (id) => _json('GET', _conv(id));

/**
 * @param {string} id
 * @param {string} title
 * @returns {Promise<Conversation>}
 */
export const renameConversation = (id, title) => _json('PATCH', _conv(id), { title });

/**
 * @param {string} id
 * @returns {Promise<void>}
 */
export async function deleteConversation(id) {
  await _request('DELETE', _conv(id));
}

/**
 * @param {string} id
 * @param {string | null} [before]
 * @returns {Promise<Page<Message>>}
 */
export function listMessages(id, before) {
  const query = new URLSearchParams({ limit: '100' });
  if (before) query.set('before', before);
  return _json('GET', `${_conv(id)}/messages?${query}`);
}

/**
 * Ask the server to stop a run; the run's stream then ends with `done` (status stopped).
 * The empty JSON body is there only so that every POST is JSON.
 * @param {string} runId
 * @returns {Promise<void>}
 */
export async function stopRun(runId) {
  await _request('POST', `/api/runs/${encodeURIComponent(runId)}/stop`, { body: {} });
}

/**
 * Post a prompt; resolves once the server has accepted it (2xx) with the event stream.
 * @param {string} conversationId
 * @param {string} prompt
 * @param {AbortSignal} signal
 * @returns {Promise<Response>}
 */
export function sendMessage(conversationId, prompt, signal) {
  return _request('POST', `${_conv(conversationId)}/messages`, {
    body: { prompt },
    accept: 'text/event-stream',
    signal,
  });
}

/**
 * Attach to a run's events. Without `afterId` the server replays the run from its
 * first event; with it, only the events after that id (each exactly once).
 * @param {string} runId
 * @param {number | null} afterId
 * @param {AbortSignal} signal
 * @returns {Promise<Response>}
 */
export function attachRun(runId, afterId, signal) {
  /** @type {Record<string, string>} */
  const headers = afterId === null ? {} : { 'Last-Event-ID': String(afterId) };
  return _request('GET', `/api/runs/${encodeURIComponent(runId)}/events`, {
    accept: 'text/event-stream',
    headers,
    signal,
  });
}

/**
 * The run events of an event-stream response, in order. Ends when the server closes
 * the stream; throws if the connection breaks (or the request's signal aborts it).
 * @param {Response} response
 * @returns {AsyncGenerator<RunEvent, void, void>}
 */
export async function* readEvents(response) {
  if (!response.body) throw new Error('The server sent an empty answer.');
  const reader = response.body.getReader();
  // stream: true keeps a multi-byte UTF-8 character split across chunks intact.
  const decoder = new TextDecoder();
  const parser = new SseParser();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      const text = done ? decoder.decode() : decoder.decode(value, { stream: true });
      for (const frame of parser.push(text)) {
        const event = _runEvent(frame.event, frame.id, frame.data);
        if (event) yield event;
      }
      if (done) return;
    }
  } finally {
    // Also runs when the consumer stops early: release the connection.
    reader.cancel().catch(() => {});
  }
}

/**
 * @param {string} type
 * @param {string | null} id
 * @param {string} data
 * @returns {RunEvent | null}
 */
function _runEvent(type, id, data) {
  if (!EVENT_TYPES.has(type)) return null; // a newer server's event: skip it
  /** @type {unknown} */
  let parsed;
  try {
    parsed = JSON.parse(data);
  } catch {
    console.warn('parley: ignoring an event whose data is not JSON', type, data);
    return null;
  }
  // The server is the source of these shapes (docs/protocol.md); trust them as typed.
  return /** @type {RunEvent} */ ({ type, id: Number(id ?? -1), data: parsed });
}
