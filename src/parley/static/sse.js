// Server-Sent Events parsing, following the WHATWG "event stream interpretation" rules.
// EventSource cannot POST, so the send stream is read with fetch() and parsed here.
// The parser is fed decoded text in chunks that may split anywhere: inside a line,
// between "\r" and "\n", or between frames.

/**
 * @typedef {object} SseFrame
 * @property {string} event  the `event:` field, "message" when absent
 * @property {string} data   the `data:` lines joined with "\n"
 * @property {string | null} id  the `id:` field of this frame, if it had one
 */

export class SseParser {
  constructor() {
    /** Text received but not yet split into complete lines. */
    this._buffer = '';
    /** @type {string[]} */
    this._data = [];
    this._event = '';
    /** @type {string | null} */
    this._id = null;
  }

  /**
   * Feed decoded text; returns the frames it completed.
   * @param {string} chunk
   * @returns {SseFrame[]}
   */
  push(chunk) {
    this._buffer += chunk;
    /** @type {SseFrame[]} */
    const frames = [];
    let start = 0;
    for (;;) {
      const end = _lineEnd(this._buffer, start);
      if (end === -1) break;
      const line = this._buffer.slice(start, end);
      // A line ends with "\r\n", "\n" or "\r"; step over the whole terminator.
      start = end + (this._buffer.startsWith('\r\n', end) ? 2 : 1);
      const frame = this._line(line);
      if (frame) frames.push(frame);
    }
    this._buffer = this._buffer.slice(start);
    return frames;
  }

  /**
   * @param {string} line
   * @returns {SseFrame | null}
   */
  _line(line) {
    if (line === '') return this._dispatch();
    if (line.startsWith(':')) return null; // a comment (keep-alive)
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this._data.push(value);
    else if (field === 'event') this._event = value;
    else if (field === 'id' && !value.includes('\0')) this._id = value;
    // "retry" and unknown fields are ignored: fetch() does not reconnect by itself.
    return null;
  }

  /** @returns {SseFrame | null} */
  _dispatch() {
    const frame = this._data.length
      ? { event: this._event || 'message', data: this._data.join('\n'), id: this._id }
      : null;
    this._data = [];
    this._event = '';
    this._id = null;
    return frame;
  }
}

/**
 * Index of the next line terminator at or after `start`, or -1 if the buffer holds no
 * complete line yet. A trailing "\r" may be the first half of "\r\n", so it waits for
 * the next chunk.
 * @param {string} text
 * @param {number} start
 * @returns {number}
 */
function _lineEnd(text, start) {
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) return i; // \n
    if (c === 13) return i + 1 < text.length ? i : -1; // \r
  }
  return -1;
}
