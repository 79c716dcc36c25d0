// The tail of a streamed text part: its markdown source not rendered yet, shown as it
// arrives until a `block` event covers it with the server's HTML (docs/protocol.md).
//
// Append-only: a delta is appended as text nodes and costs its own length; the tail is
// rebuilt only when a block moves its start. Setting the whole tail again on every delta
// would cost the length of the unfinished block each time: quadratic in a long block.
//
// A tail that opens a code fence shows as a code block while it streams (monospace, in
// its box, its language named, not highlighted), with the fence lines hidden, rather
// than as proportional text with backticks until the fence closes. Anything else (a
// paragraph, a list, a table) stays plain text, its line breaks kept.

import { setLanguage, streamingCode } from './codeblocks.js';

// An opening fence, as CommonMark has it: up to 3 spaces of indent, 3 or more backticks
// or tildes, then the info string (its first word is the language).
const FENCE_START = /^ {0,3}(`{3,}|~{3,})/;
const OPENING = /^ {0,3}(`{3,}|~{3,})(.*)$/;
// A first line that may still become an opening fence, a character or two short.
const FENCE_PREFIX = /^ {0,3}(?:`{0,2}|~{0,2})$/;

/**
 * 'line': the first line is not known yet to open a fence or not (nothing is shown);
 * 'opening': it opens one, the rest of its line (the info string) is still coming;
 * 'code': inside the fence; 'plain': not a fence, or after the fence closed.
 * @typedef {'line' | 'opening' | 'code' | 'plain'} TailMode
 */

/**
 * What the tail is in the middle of.
 * @typedef {object} TailState
 * @property {TailMode} mode
 * @property {string} head       the first line so far, while it may still open a fence
 * @property {boolean} blank     … and it holds only spaces and tabs
 * @property {string} opening    the opening fence's line so far
 * @property {HTMLElement | null} box   the code block's box
 * @property {HTMLElement | null} code  its `code`, which the lines go to
 * @property {RegExp | null} closing    the line that closes the fence
 * @property {string} line       the code's current line so far, which may turn out to close it
 * @property {Text[]} lineNodes  the nodes showing that line, removed if it does
 */

/** @returns {TailState} */
function _initial() {
  return { mode: 'line', head: '', blank: true, opening: '', box: null, code: null, closing: null, line: '', lineNodes: [] };
}

export class StreamTail {
  /** @param {HTMLElement} element  where the tail is shown */
  constructor(element) {
    this.element = element;
    this._s = _initial();
  }

  /**
   * Show `text` in place of what the tail showed: a block moved its start.
   * @param {string} text
   */
  reset(text) {
    this.element.replaceChildren();
    this._s = _initial();
    this.append(text);
  }

  /** @param {string} delta */
  append(delta) {
    let rest = delta;
    if (rest && this._s.mode === 'line') rest = this._firstLine(rest);
    if (rest && this._s.mode === 'opening') rest = this._openingLine(rest);
    if (rest && this._s.mode === 'code') rest = this._codeLines(rest);
    if (rest && this._s.mode === 'plain') this.element.append(rest);
  }

  /**
   * Read the first line until it is known whether it opens a fence: a few characters at
   * most, past blank lines (which show nothing, and a fence may follow them).
   * @param {string} text
   * @returns {string} the part of `text` left for the next mode
   */
  _firstLine(text) {
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (c === '\n') {
        if (this._s.blank) {
          this._s.head = '';
          continue;
        }
        return this._plain(i, text); // a whole line, short of a fence: not one
      }
      this._s.head += c;
      if (c !== ' ' && c !== '\t' && c !== '\r') this._s.blank = false;
      else if (this._s.blank && this._s.head.length > 3) continue; // too indented to open a fence
      if (FENCE_START.test(this._s.head)) {
        this._s.mode = 'opening';
        this._s.opening = this._s.head;
        const { box, code } = streamingCode();
        this._s.box = box;
        this._s.code = code;
        this.element.append(box);
        return text.slice(i + 1);
      }
      if (!this._s.blank && !FENCE_PREFIX.test(this._s.head)) return this._plain(i + 1, text);
    }
    return '';
  }

  /**
   * Not a fence: show the first line read so far as text, and what follows it.
   * @param {number} at  where the rest of `text` begins
   * @param {string} text
   * @returns {string}
   */
  _plain(at, text) {
    this._s.mode = 'plain';
    this.element.append(this._s.head);
    return text.slice(at);
  }

  /**
   * The rest of the opening line: its info string names the language.
   * @param {string} text
   * @returns {string}
   */
  _openingLine(text) {
    const end = text.indexOf('\n');
    if (end < 0) {
      this._s.opening += text;
      return '';
    }
    const line = (this._s.opening + text.slice(0, end)).replace(/\r$/, '');
    this._s.opening = '';
    const [, fence = '```', after = ''] = OPENING.exec(line) ?? [];
    const info = after.trim();
    if (fence[0] === '`' && info.includes('`')) {
      // A backtick in a backtick fence's info string: inline code, not a fence.
      this._s.box?.remove();
      this._s.mode = 'plain';
      this.element.append(line);
      return text.slice(end);
    }
    // The closing line: the same character, at least as many, then only spaces and tabs.
    this._s.closing = new RegExp(`^ {0,3}${fence[0]}{${fence.length},}[ \\t]*$`);
    if (this._s.box) setLanguage(this._s.box, info.split(/\s/)[0] ?? '');
    this._s.mode = 'code';
    return text.slice(end + 1);
  }

  /**
   * Code lines, appended as they come; the closing line is taken out once it is whole.
   * @param {string} text
   * @returns {string}
   */
  _codeLines(text) {
    const code = /** @type {HTMLElement} */ (this._s.code);
    const closing = /** @type {RegExp} */ (this._s.closing);
    let start = 0; // the start of the current line
    for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', start)) {
      const line = (start === 0 ? this._s.line : '') + text.slice(start, end);
      if (closing.test(line.replace(/\r$/, ''))) {
        if (start > 0) code.append(text.slice(0, start));
        if (start === 0) for (const node of this._s.lineNodes) node.remove();
        this._s.line = '';
        this._s.lineNodes = [];
        this._s.mode = 'plain';
        return text.slice(end + 1);
      }
      if (start === 0) {
        this._s.line = '';
        this._s.lineNodes = [];
      }
      start = end + 1;
    }
    if (start > 0) code.append(text.slice(0, start));
    if (start < text.length) {
      const node = document.createTextNode(text.slice(start));
      code.append(node);
      this._s.line += node.data;
      this._s.lineNodes.push(node);
    }
    return '';
  }
}
