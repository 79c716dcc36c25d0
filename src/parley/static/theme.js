// The colour theme: the system's (light or dark, and following it when it changes) unless
// the user chose one with the "Theme" button, which cycles System → Light → Dark and is
// remembered in localStorage.
//
// A classic script, loaded from <head> without `defer` (the only one): it must set
// <html data-theme> before the first paint, or a chosen theme would flash the system's
// colours first, and the CSP allows no inline script to do it. So it imports nothing and
// keeps its names inside this block. style.css and /static/highlight.css key their colours
// on the attribute: `light` or `dark` is the user's choice, none means "follow the system".

{
  const KEY = 'parley.theme';
  /** @type {readonly Choice[]} the order the button cycles through */
  const CHOICES = ['system', 'light', 'dark'];
  /** @type {Record<Choice, string>} */
  const NAMES = { system: 'System', light: 'Light', dark: 'Dark' };

  /** @typedef {'system' | 'light' | 'dark'} Choice */

  /** @returns {Choice} */
  const stored = () => {
    try {
      const value = localStorage.getItem(KEY);
      return value === 'light' || value === 'dark' ? value : 'system';
    } catch {
      return 'system'; // storage disabled: the system's theme, every time
    }
  };

  /** @param {Choice} choice */
  const apply = (choice) => {
    const root = document.documentElement;
    if (choice === 'system') delete root.dataset.theme;
    else root.dataset.theme = choice;
    // The meta tag colours the canvas before the stylesheet has loaded, and the browser's own
    // parts (scroll bars, form controls) follow it too.
    document.querySelector('meta[name="color-scheme"]')?.setAttribute('content', choice === 'system' ? 'light dark' : choice);
  };

  /**
   * The button shows the choice: its icon (by `data-choice`, in CSS), its tooltip and its
   * description; `announce` also says it in the status line, after a click.
   * @param {Choice} choice
   * @param {boolean} announce
   */
  const show = (choice, announce) => {
    const button = document.getElementById('theme-toggle');
    const value = document.getElementById('theme-choice');
    const status = document.getElementById('theme-status');
    if (!button || !value || !status) return;
    const next = CHOICES[(CHOICES.indexOf(choice) + 1) % CHOICES.length];
    button.dataset.choice = choice;
    button.title = `Theme: ${NAMES[choice]}${choice === 'system' ? ' (as your device)' : ''}. Click for ${NAMES[next]}.`;
    value.textContent = NAMES[choice];
    if (announce) status.textContent = `Theme: ${NAMES[choice]}`;
  };

  let current = stored();
  apply(current);

  document.addEventListener('DOMContentLoaded', () => {
    show(current, false);
    document.getElementById('theme-toggle')?.addEventListener('click', () => {
      current = CHOICES[(CHOICES.indexOf(current) + 1) % CHOICES.length];
      try {
        if (current === 'system') localStorage.removeItem(KEY);
        else localStorage.setItem(KEY, current);
      } catch {
        // Not remembered, but it still applies to this page.
      }
      apply(current);
      show(current, true);
    });
  });

  // Chosen in another tab: this one follows.
  window.addEventListener('storage', (event) => {
    if (event.key !== KEY && event.key !== null) return;
    current = stored();
    apply(current);
    show(current, false);
  });
}
