// A run's event stream, decoded: the events of an event-stream response (api.js makes the
// requests that answer with one), parsed by sse.js and checked against the event types
// of docs/protocol.md.

import { SseParser } from './sse.js';

/** @typedef {import('./api.js').Done} Done */
/** @typedef {import('./api.js').Message} Message */

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

/** The event types above: any other is a newer server's, and skipped. */
const EVENT_TYPES = new Set([
  'user', 'start', 'text', 'block', 'thinking', 'tool_call', 'tool_result', 'error', 'done',
]);

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
