// Whether keys typed somewhere are text: shared by the keyboard shortcuts (a key that types
// something in a field is the field's) and the log's scrolling (the arrows move a caret).

/**
 * @param {EventTarget | null} target
 * @returns {boolean} whether keys typed there are text (or choose an option, in a select)
 */
export function isTextField(target) {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
  const notText = ['button', 'checkbox', 'radio', 'range', 'color', 'file', 'submit', 'reset', 'image'];
  return target instanceof HTMLInputElement && !notText.includes(target.type);
}
