// Code blocks in a reply: each `pre` gets a box with a header (its language, and a Copy
// code button once it is finished), and is keyboard-focusable with a name, as a wide
// block scrolls sideways and the keyboard must reach what is hidden.
//
// The server renders a fenced block as `<pre class="highlight"><code class="language-x">`
// (Pygments), or `<pre><code class="language-x">` when it does not know the language, and
// an indented block as `<pre><code>`.

import { copyButton } from './copy.js';
import { h } from './dom.js';

const LANGUAGE = /(?:^|\s)language-(\S+)/;

/**
 * Decorate the code blocks among `first` and its following siblings: the nodes that were
 * just inserted. Only they are looked at, never the whole message, so a reply of many
 * blocks costs each block once.
 * @param {ChildNode | null} first
 */
export function decorateCode(first) {
  for (let node = first; node; ) {
    const next = node.nextSibling; // read first: decorating moves a `pre` into a box
    if (node instanceof HTMLPreElement) _decorate(node);
    else if (node instanceof Element) for (const pre of node.querySelectorAll('pre')) _decorate(pre);
    node = next;
  }
}

/** @param {HTMLPreElement} pre */
function _decorate(pre) {
  if (pre.parentElement?.classList.contains('codeblock')) return;
  const code = pre.querySelector('code');
  const language = LANGUAGE.exec(code?.className ?? '')?.[1] ?? '';
  const copy = copyButton({
    label: 'Copy code',
    className: 'codeblock__copy',
    showLabel: true,
    source: () => _codeText(pre),
  });
  const box = _codeBox(pre, language, copy);
  pre.replaceWith(box);
  box.append(pre);
}

/**
 * The code a block holds, as written between its fences: without the line break that
 * ends its last line (the fence's, not the code's), so a pasted command does not run
 * at once in a terminal.
 * @param {HTMLPreElement} pre
 * @returns {string}
 */
function _codeText(pre) {
  const text = (pre.querySelector('code') ?? pre).textContent ?? '';
  return text.endsWith('\n') ? text.slice(0, -1) : text;
}

/**
 * The box of a code block: a header naming its language ("text" when it has none),
 * then `pre`, focusable and named. The caller puts `pre` in the box.
 * @param {HTMLPreElement} pre
 * @param {string} language  "" when none
 * @param {HTMLElement | null} copy  the Copy code button (none while it streams)
 * @returns {HTMLElement}
 */
function _codeBox(pre, language, copy) {
  // A `pre` scrolls: it must be reachable by the keyboard, and then needs a name. The
  // role makes the name valid (a name on a plain `pre` is ignored).
  pre.setAttribute('tabindex', '0');
  pre.setAttribute('role', 'group');
  pre.setAttribute('aria-label', language ? `${language} code` : 'Code');
  // The language is in the block's name already: the header's copy is for the eyes.
  const header = h('div', { class: 'codeblock__header' }, h('span', { class: 'codeblock__lang', 'aria-hidden': 'true' }, language || 'text'));
  if (copy) header.append(copy);
  return h('div', { class: 'codeblock', 'data-language': language || 'text' }, header);
}

/**
 * A code block still streaming: the same box, with plain (unhighlighted) text in its
 * `code`, which the caller appends to. Its language is named by `setLanguage` once the
 * opening line is complete; until then the header shows none.
 * @returns {{box: HTMLElement, code: HTMLElement}}
 */
export function streamingCode() {
  const code = h('code');
  const pre = h('pre', {}, code);
  const box = _codeBox(pre, '', null);
  box.classList.add('codeblock--streaming');
  const label = box.querySelector('.codeblock__lang');
  if (label) label.textContent = '';
  box.append(pre);
  return { box, code };
}

/**
 * Name the language of a streaming block once its opening line is complete.
 * @param {HTMLElement} box  from `streamingCode`
 * @param {string} language
 */
export function setLanguage(box, language) {
  const shown = language || 'text';
  box.setAttribute('data-language', shown);
  const label = box.querySelector('.codeblock__lang');
  if (label) label.textContent = shown;
  const pre = box.querySelector('pre');
  pre?.setAttribute('aria-label', language ? `${language} code` : 'Code');
  if (language) pre?.querySelector('code')?.classList.add(`language-${language}`);
}
