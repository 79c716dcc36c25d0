// Files attached to a prompt: the composer's list (the "Attach files" button, dropping
// files on the composer, pasting them into the prompt), each uploaded at once; and the
// chips (name, size, type) and thumbnails a sent message shows.
//
// Names come from the user's files and are set as text only. Thumbnails load
// /api/files/{id}, which serves raster images only inline (the page's CSP: img-src 'self').

import * as api from './api.js';
import { describeError, h } from './dom.js';

/** @typedef {import('./api.js').AttachmentPart} AttachmentPart */
/** @typedef {import('./api.js').UploadedFile} UploadedFile */

/**
 * @param {number} bytes
 * @returns {string}  "512 B", "34 KB", "1.2 MB"
 */
export function formatSize(bytes) {
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1_000_000) return `${Math.round(bytes / 1000)} KB`;
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}

/**
 * A short name for a media type: "PNG image", "PDF", "Text".
 * @param {string} mediaType
 * @returns {string}
 */
function _typeLabel(mediaType) {
  if (mediaType === 'application/pdf') return 'PDF';
  if (mediaType.startsWith('image/')) return `${mediaType.slice(6).toUpperCase()} image`;
  return 'Text';
}

/**
 * The attachments of a sent message: images as thumbnails, each file as a chip. A PDF the
 * model received as its text says so.
 * @param {AttachmentPart[]} parts
 * @returns {HTMLElement | null}  null when there are none
 */
export function attachmentList(parts) {
  if (!parts.length) return null;
  const list = h('ul', { class: 'files', 'aria-label': 'Attachments', 'data-testid': 'message-files' });
  for (const part of parts) {
    const url = api.fileUrl(part.id);
    const image = part.media_type.startsWith('image/');
    const note = part.sent_as === 'text' && part.media_type === 'application/pdf' ? ' · sent as text' : '';
    const chip = h(
      'a',
      { class: 'file-chip', href: url, 'data-testid': 'file-chip', ...(image ? { target: '_blank', rel: 'noopener' } : { download: part.name }) },
      h('span', { class: 'file-chip__name' }, part.name),
      h('span', { class: 'file-chip__meta' }, `${_typeLabel(part.media_type)} · ${formatSize(part.size)}${note}`),
    );
    if (image) {
      chip.prepend(h('img', { class: 'file-chip__thumb', src: url, alt: '', loading: 'lazy', 'data-testid': 'file-thumb' }));
    }
    list.append(h('li', {}, chip));
  }
  return list;
}

/**
 * @typedef {object} Pending
 * @property {File} file
 * @property {HTMLElement} chip
 * @property {Promise<UploadedFile | null>} upload  null if it was refused
 */

/**
 * @typedef {object} AttachElements
 * @property {HTMLFormElement} form      where files may be dropped; the list goes inside
 * @property {HTMLElement} box           the list is shown just before it
 * @property {HTMLButtonElement} button  "Attach files"
 * @property {HTMLInputElement} input    the hidden file input the button opens
 * @property {HTMLTextAreaElement} prompt  files pasted here are attached
 */

/** The files attached to the prompt being written, uploaded as soon as they are added. */
export class Attachments {
  /** @param {AttachElements} elements */
  constructor(elements) {
    const { form, box, button, input, prompt } = elements;
    /** @type {Pending[]} */
    this._items = [];
    this._list = h('ul', { class: 'attachments', 'aria-label': 'Attached files', 'data-testid': 'attachments' });
    this._list.hidden = true;
    box.before(this._list);
    button.addEventListener('click', () => input.click());
    input.addEventListener('change', () => {
      if (input.files) this.add(input.files);
      input.value = '';
    });
    form.addEventListener('dragover', (event) => {
      if (!event.dataTransfer?.types.includes('Files')) return;
      event.preventDefault();
      form.classList.add('is-dropping');
    });
    form.addEventListener('dragleave', () => form.classList.remove('is-dropping'));
    form.addEventListener('drop', (event) => {
      form.classList.remove('is-dropping');
      const files = event.dataTransfer?.files;
      if (!files?.length) return;
      event.preventDefault();
      this.add(files);
    });
    prompt.addEventListener('paste', (event) => {
      const files = event.clipboardData?.files;
      if (!files?.length) return; // text is pasted as usual
      event.preventDefault();
      this.add(files);
    });
  }

  /** @returns {boolean} */
  get empty() {
    return this._items.length === 0;
  }

  /** @param {FileList | File[]} files */
  add(files) {
    for (const file of Array.from(files)) {
      const status = h('span', { class: 'attachment__status' }, 'Uploading…');
      const remove = h('button', { type: 'button', class: 'btn btn--small attachment__remove', 'aria-label': `Remove ${file.name}` }, '×');
      const chip = h(
        'li',
        { class: 'attachment', 'data-testid': 'attachment' },
        h('span', { class: 'attachment__name' }, file.name),
        h('span', { class: 'attachment__size' }, formatSize(file.size)),
        status,
        remove,
      );
      const upload = api.uploadFile(file).then(
        (uploaded) => {
          status.textContent = _typeLabel(uploaded.media_type);
          return uploaded;
        },
        (/** @type {unknown} */ error) => {
          // The server's sentence: too large, storage full, a type it does not take.
          chip.classList.add('is-refused');
          status.textContent = describeError(error);
          status.setAttribute('role', 'alert');
          return null;
        },
      );
      /** @type {Pending} */
      const item = { file, chip, upload };
      remove.addEventListener('click', () => this._remove(item));
      this._items.push(item);
      this._list.append(chip);
    }
    this._list.hidden = this._items.length === 0;
  }

  /**
   * The uploaded files, once every upload has ended, and the list emptied; null (and the
   * list kept) if one was refused: the user removes it first.
   * @returns {Promise<UploadedFile[] | null>}
   */
  async take() {
    const items = [...this._items];
    const uploaded = await Promise.all(items.map((item) => item.upload));
    if (uploaded.some((u) => u === null)) return null;
    for (const item of items) this._remove(item);
    return /** @type {UploadedFile[]} */ (uploaded);
  }

  /** @param {Pending} item */
  _remove(item) {
    this._items = this._items.filter((i) => i !== item);
    item.chip.remove();
    this._list.hidden = this._items.length === 0;
  }
}
