// Following one run's event stream to its end, resuming it if the connection breaks.
// Knows nothing of the page: events go to a callback.

import { attachRun } from './api.js';
import { readEvents } from './events.js';

/** @typedef {import('./events.js').RunEvent} RunEvent */

/**
 * How following a run ended:
 * - done: the `done` event arrived;
 * - aborted: the caller's signal stopped it (the run goes on server-side);
 * - refused: the first request failed, so nothing was started (`error` says why);
 * - lost: the connection broke and could not be resumed.
 * @typedef {{outcome: 'done' | 'aborted' | 'lost'} | {outcome: 'refused', error: unknown}} RunEnd
 */

/** Waits before each attempt to resume a broken stream. */
const RETRY_DELAYS_MS = [500, 1500, 4000];

/**
 * Read a run's events until `done`. `connect` opens the first stream (sending a prompt,
 * or attaching to a run). If the stream breaks once the run is known (after `start`),
 * it is resumed from the last event id seen: the server then sends every later event
 * exactly once, so nothing is lost or applied twice.
 * @param {(signal: AbortSignal) => Promise<Response>} connect
 * @param {(event: RunEvent) => void} onEvent
 * @param {AbortSignal} signal
 * @returns {Promise<RunEnd>}
 */
export async function followRun(connect, onEvent, signal) {
  /** @type {string | null} */
  let runId = null;
  /** @type {number | null} */
  let lastId = null;
  let started = false;
  let attempt = 0;
  for (;;) {
    try {
      const response = await connect(signal);
      started = true;
      for await (const event of readEvents(response)) {
        if (signal.aborted) return { outcome: 'aborted' };
        lastId = event.id;
        attempt = 0;
        if (event.type === 'start') runId = event.data.run_id;
        onEvent(event);
        if (event.type === 'done') return { outcome: 'done' };
      }
      // The server closed the stream before `done`: resume below.
    } catch (error) {
      if (signal.aborted) return { outcome: 'aborted' };
      if (!started) return { outcome: 'refused', error };
      console.warn('parley: the event stream broke', error);
    }
    if (runId === null || attempt >= RETRY_DELAYS_MS.length) return { outcome: 'lost' };
    await _sleep(RETRY_DELAYS_MS[attempt++], signal);
    if (signal.aborted) return { outcome: 'aborted' };
    const resume = { runId, lastId };
    connect = (s) => attachRun(resume.runId, resume.lastId, s);
  }
}

/**
 * @param {number} ms
 * @param {AbortSignal} signal  ends the wait early
 * @returns {Promise<void>}
 */
function _sleep(ms, signal) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}
