// The sidebar as a drawer on narrow screens, over the chat behind the "Conversations"
// button. While it is open it is the only thing on the page that works: the rest is inert
// (no clicks, no focus, hidden from screen readers), Tab and Shift+Tab go round its
// controls, and it closes on Esc (keyboard.js's hook calls `close`) or a tap beside it,
// giving the focus back to the button.

/**
 * @typedef {object} DrawerElements
 * @property {HTMLElement} app        gets the `sidebar-open` class the CSS shows it by
 * @property {HTMLElement} panel      the sidebar
 * @property {HTMLButtonElement} toggle
 * @property {HTMLElement} backdrop   over the chat, beside the drawer
 * @property {HTMLElement} first      where the focus goes when it opens (New chat)
 * @property {HTMLElement[]} outside  the rest of the page, inert while it is open
 */

/** What can take the focus; those not shown or disabled are filtered out after. */
const FOCUSABLE = 'a[href], button, input, select, textarea, [tabindex]:not([tabindex="-1"])';

export class Drawer {
  /**
   * @param {DrawerElements} elements
   * @param {MediaQueryList} narrow  true while the sidebar is a drawer
   */
  constructor(elements, narrow) {
    this._el = elements;
    this._narrow = narrow;
    const { toggle, backdrop } = elements;
    toggle.addEventListener('click', () => {
      if (this.shown) this.close(true);
      else this.open();
    });
    backdrop.addEventListener('click', () => this.close(true));
    // Wider again: the sidebar is a column, nothing to close or to keep inert.
    narrow.addEventListener('change', () => this.close(false));
    document.addEventListener('keydown', (event) => this._trap(event));
  }

  /** @returns {boolean} open, over the chat */
  get shown() {
    return this._narrow.matches && this._el.app.classList.contains('sidebar-open');
  }

  open() {
    this._set(true);
    this._el.first.focus();
  }

  /** @param {boolean} returnFocus  to the toggle (not when the caller puts it elsewhere) */
  close(returnFocus) {
    const was = this.shown;
    this._set(false);
    if (was && returnFocus) this._el.toggle.focus();
  }

  /** @param {boolean} open */
  _set(open) {
    const { app, toggle, backdrop, outside } = this._el;
    app.classList.toggle('sidebar-open', open);
    toggle.setAttribute('aria-expanded', String(open));
    backdrop.hidden = !open;
    for (const element of outside) element.inert = open && this._narrow.matches;
  }

  /**
   * Tab from the last control goes to the first, Shift+Tab from the first to the last; from
   * anywhere else outside the drawer (the page itself, after a tap on its background), in.
   * @param {KeyboardEvent} event
   */
  _trap(event) {
    if (event.key !== 'Tab' || event.ctrlKey || event.metaKey || event.altKey || !this.shown) return;
    // A dialog opened from the drawer (Delete, API tokens) keeps the focus itself.
    if (document.querySelector('dialog[open]')) return;
    // No client rects: not shown (display: none), so not a Tab stop either.
    const controls = [...this._el.panel.querySelectorAll(FOCUSABLE)].filter(
      (e) => e instanceof HTMLElement && !e.matches(':disabled') && e.getClientRects().length > 0,
    );
    const first = controls[0];
    const last = controls[controls.length - 1];
    if (!(first instanceof HTMLElement) || !(last instanceof HTMLElement)) return;
    const focused = document.activeElement;
    const inside = focused instanceof Node && this._el.panel.contains(focused);
    if (!inside) {
      event.preventDefault();
      (event.shiftKey ? last : first).focus();
    } else if (event.shiftKey && focused === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && focused === last) {
      event.preventDefault();
      first.focus();
    }
  }
}
