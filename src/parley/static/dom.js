// Small DOM helpers. Everything here builds nodes from text: nothing parses HTML, so
// anything passed in (titles, prompts, tool output) can never become markup.

/**
 * Create an element with attributes and children. Strings become text nodes.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, string | boolean | undefined>} [attrs] `false`/`undefined` skip
 *   the attribute, `true` sets it empty (for `hidden`, `open`, …).
 * @param {...(Node | string)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === undefined) continue;
    node.setAttribute(name, value === true ? '' : value);
  }
  node.append(...children);
  return node;
}

/**
 * The element with this id, checked to be of the expected class: a missing or wrong
 * element is a bug in index.html, so fail loudly at start-up rather than later.
 * @template {HTMLElement} T
 * @param {string} id
 * @param {{new (): T, prototype: T}} type
 * @returns {T}
 */
export function byId(id, type) {
  const node = document.getElementById(id);
  if (!(node instanceof type)) {
    throw new Error(`#${id} is missing or is not a ${type.name}`);
  }
  return node;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** 24×24 stroke icons, drawn by hand. */
const ICONS = {
  plus: 'M12 5v14M5 12h14',
  pencil: 'M4 20h4L19 9l-4-4L4 16v4zM13.5 6.5l4 4',
  trash: 'M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13M10 11v6M14 11v6',
  menu: 'M4 6h16M4 12h16M4 18h16',
  send: 'M5 12h13M13 6l6 6-6 6',
  stop: 'M7 7h10v10H7z',
  retry: 'M4 12a8 8 0 1 0 2.3-5.6M4 4v4h4',
  search: 'M4 11a7 7 0 1 0 14 0a7 7 0 1 0-14 0M20 20l-4.2-4.2',
  pin: 'M9 4h6M10 4v6l-3 4h10l-3-4V4M12 14v6',
  unpin: 'M9 4h6M10 4v6l-3 4h10l-3-4V4M12 14v6M4 4l16 16',
  archive: 'M3 5h18v4H3zM5 9v10h14V9M10 13h4',
  unarchive: 'M3 5h18v4H3zM5 9v10h14V9M12 17v-5M9.5 14.5 12 12l2.5 2.5',
  fork: 'M6 3v12M6 21a3 3 0 1 0 0-6a3 3 0 0 0 0 6M18 9a3 3 0 1 0 0-6a3 3 0 0 0 0 6M18 9a9 9 0 0 1-9 9',
  previous: 'M15 6l-6 6 6 6',
  next: 'M9 6l6 6-6 6',
  copy: 'M9 9h11v11H9zM5 15H4V4h11v1',
  check: 'M5 12.5l4.5 4.5L19 7.5',
  'thumbs-up': 'M7 10v10H4V10h3M7 10l4-7a2 2 0 0 1 2.5 2.2L13 10h5.5a2 2 0 0 1 2 2.4l-1.4 6A2 2 0 0 1 17.1 20H7',
  'thumbs-down': 'M7 14V4H4v10h3M7 14l4 7a2 2 0 0 0 2.5-2.2L13 14h5.5a2 2 0 0 0 2-2.4l-1.4-6A2 2 0 0 0 17.1 4H7',
  inspect: 'M8 8l-4 4 4 4M16 8l4 4-4 4M14 5l-4 14',
};

/**
 * A decorative SVG icon (hidden from assistive technology: the button around it
 * carries the accessible name).
 * @param {keyof typeof ICONS} name
 * @returns {SVGSVGElement}
 */
export function icon(name) {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.classList.add('icon');
  const path = document.createElementNS(SVG_NS, 'path');
  path.setAttribute('d', ICONS[name]);
  svg.append(path);
  return svg;
}

/**
 * A sentence for an error of any kind, for showing to the user.
 * @param {unknown} error
 * @returns {string}
 */
export function describeError(error) {
  if (error instanceof TypeError) {
    // fetch() rejects with a TypeError when the network or the server is unreachable.
    return 'Could not reach the server. Check your connection and try again.';
  }
  if (error instanceof Error && error.message) return error.message;
  return 'Something went wrong.';
}
