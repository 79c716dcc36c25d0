// The HTTP API of docs/protocol.md: JSON requests, the requests that answer with a run's
// event stream (send a message, edit one, regenerate a reply, reattach to a run; events.js
// reads the stream), search, branches, a conversation's model, instructions and usage,
// the models to choose from, accounts (log in, log out, API tokens), shared links,
// export and import. Any 401 sends the page to /login. Paths are Parley's own ("/api/…"),
// made the host's by root.js when Parley is mounted under a path.

import { url } from './root.js';

/**
 * @typedef {object} Info
 * @property {string} version
 * @property {string} model
 * @property {string | null} [model_notice] what to say about the model (e.g. the bundled one is tiny)
 * @property {number} max_prompt_chars
 */

/**
 * @typedef {object} Conversation
 * @property {string} id
 * @property {string | null} title
 * @property {string} created_at
 * @property {string} updated_at
 * @property {string | null} active_run_id
 * @property {boolean} pinned    listed before the others
 * @property {boolean} archived  listed only in the archive (still searchable)
 * @property {TitleSource} title_source
 * @property {string | null} [model]         its model (an id of GET /api/models); null: the default
 * @property {string | null} [instructions]  its own instructions, added to the operator's
 * @property {string[]} [tools_off]  the MCP servers (GET /api/tools) its replies do not use
 */

/**
 * A model to choose from. Prices are USD per million tokens, null when unknown.
 * @typedef {object} ModelChoice
 * @property {string} id
 * @property {number | null} context_window  tokens, null when unknown
 * @property {boolean} images
 * @property {boolean} documents
 * @property {('images' | 'documents')[]} assumed  the flags nothing confirms
 * @property {number | null} input_price
 * @property {number | null} output_price
 */

/**
 * What a conversation's replies used, all of them (every branch).
 * @typedef {object} ConversationUsage
 * @property {number} replies
 * @property {number} input_tokens
 * @property {number} output_tokens
 * @property {number | null} cost  USD of the priced replies; null when none is priced
 * @property {number} unpriced     replies whose model has no known price
 */

/**
 * What the conversation settings dialog saves: null is the default model, no instructions.
 * @typedef {{model?: string | null, instructions: string | null}} ConversationSettings
 */

/**
 * Where a title came from. "prompt" is provisional: the server replaces it with a
 * model-written one ("model") a moment after the first reply; "user" is never replaced.
 * @typedef {'default' | 'prompt' | 'model' | 'user'} TitleSource
 */

/**
 * @typedef {{type: 'text', html: string | null}
 *   | {type: 'file', media_type: string, size: number}
 *   | {type: 'thinking', text: string}
 *   | {type: 'tool_call', tool_call_id: string, tool_name: string, args: string, approval?: Approval | null}
 *   | {type: 'tool_result', tool_call_id: string, tool_name: string, content: string}
 *   | AttachmentPart
 * } Part
 */

/**
 * A file the user attached to a prompt. `sent_as`: "file" the model got its bytes; "text"
 * it got text (a text file, or a PDF's extracted text for a model that takes no documents).
 * @typedef {object} AttachmentPart
 * @property {'attachment'} type
 * @property {string} id  its bytes are at /api/files/{id}
 * @property {string} name
 * @property {string} media_type
 * @property {number} size
 * @property {'file' | 'text'} sent_as
 */

/**
 * A file stored by POST /api/files, to send with a prompt by its id.
 * @typedef {object} UploadedFile
 * @property {string} id
 * @property {string} name
 * @property {string} media_type
 * @property {number} size
 * @property {'image' | 'pdf' | 'text'} kind  what its bytes are
 */

/** @typedef {'complete' | 'generating' | 'stopped' | 'error' | 'interrupted' | 'awaiting_approval'} Status */

/**
 * A tool call that needed the user's yes or no, and what they said.
 * @typedef {object} Approval
 * @property {'pending' | 'approved' | 'denied' | 'not_run'} state
 * @property {string | null} [reason]
 * @property {string | null} [args]  edited arguments, JSON text
 * @property {string | null} [by]
 * @property {string | null} [at]    ISO 8601
 */

/**
 * The user's answer to one pending tool call.
 * @typedef {object} Decision
 * @property {string} tool_call_id
 * @property {boolean} approve
 * @property {string | null} [reason]
 * @property {Record<string, unknown>} [args]
 */

/**
 * What a reply used, as its provider counted it.
 * @typedef {object} Usage
 * @property {number} input_tokens
 * @property {number} output_tokens
 * @property {number} [cache_read_tokens]
 * @property {number} [reasoning_tokens]
 * @property {number | null} [cost]  USD; null when the model's price is unknown (never a false 0)
 */

/**
 * @typedef {object} Message
 * @property {string} id
 * @property {string} conversation_id
 * @property {string | null} parent_id
 * @property {'user' | 'assistant'} role
 * @property {string} [text]  a user's prompt; absent on a reply (its parts carry the HTML)
 * @property {Part[]} parts
 * @property {Status} status
 * @property {string | null} error
 * @property {string | null} model
 * @property {Usage | null} usage
 * @property {string | null} run_id
 * @property {string} created_at
 * @property {string[]} [siblings]  every version at this position, oldest first (this one too)
 */

/**
 * @template T
 * @typedef {{items: T[], next_cursor: string | null}} Page
 */

/**
 * A page of a branch's messages, oldest first: `next_cursor` fetches older ones,
 * `newer_cursor` newer ones (null on the newest page). `context_start_id`: the first message
 * the model receives on the next turn when older ones do not fit its context window (null:
 * the whole branch is sent).
 * @typedef {object} MessagePage
 * @property {Message[]} items
 * @property {string | null} next_cursor
 * @property {string | null} [newer_cursor]
 * @property {string | null} [context_start_id]
 * @property {boolean} [context_empty]  none of the branch fits: the next prompt goes alone
 */

/**
 * Where a page of messages starts: nothing for the newest page.
 * @typedef {{before?: string, after?: string, around?: string, limit?: number}} MessageQuery
 */

/**
 * One search hit. `snippet_html` is escaped text with only <mark> added by the server.
 * @typedef {object} SearchHit
 * @property {string} message_id
 * @property {'user' | 'assistant'} role
 * @property {string} snippet_html
 * @property {string} created_at
 */

/**
 * One conversation found, with up to 3 hits (none when only its title matched).
 * @typedef {object} SearchResult
 * @property {Conversation} conversation
 * @property {string} title_html  escaped text with only <mark> added by the server
 * @property {SearchHit[]} hits
 */

/**
 * @typedef {object} Done
 * @property {string} id
 * @property {Status} status
 * @property {string | null} error
 * @property {Usage | null} usage
 * @property {string | null} model
 */

/** @typedef {{id: string, name: string}} User */

/**
 * @typedef {object} Me
 * @property {'local' | 'accounts'} mode
 * @property {User | null} user  null in accounts mode when not logged in
 */

/**
 * @typedef {object} Token
 * @property {string} id
 * @property {string} name
 * @property {string} created_at
 * @property {string | null} last_used_at
 */

/** @typedef {Token & {token: string}} NewToken  the secret is in this answer only */

/**
 * A conversation's shared link: a read-only snapshot at `url` (/s/<id>), taken when the
 * link was created and again at each update (same id, same URL).
 * @typedef {object} Share
 * @property {string} id
 * @property {string} conversation_id
 * @property {string | null} title
 * @property {string} url  a path on this server
 * @property {boolean} include_files  the page shows the conversation's files and images
 * @property {string} created_at
 * @property {string} updated_at
 */

/**
 * One conversation of an imported file that was not imported, and why.
 * @typedef {object} Refusal
 * @property {number} index  its position in the file, from 0
 * @property {string | null} title
 * @property {string} detail
 */

/**
 * What POST /api/import did: nothing is written when the whole file is refused (an error).
 * @typedef {object} ImportResult
 * @property {'parley' | 'chatgpt' | 'claude'} format  what the file was recognised as
 * @property {number} imported
 * @property {number} skipped  imported before (the same source id)
 * @property {number} refused
 * @property {string[]} conversation_ids  the new conversations
 * @property {Refusal[]} refusals
 */

/** A 4xx/5xx answer, carrying the server's `detail` sentence as its message. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} detail
   * @param {number | null} [retryAfter]  seconds to wait, from a 429's Retry-After
   */
  constructor(status, detail, retryAfter = null) {
    super(detail);
    this.name = 'ApiError';
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

/** @type {Me['mode'] | null} what /api/auth/me said, once it has answered */
let _mode = null;
let _leaving = false;

/**
 * Go to the login page, to come back here afterwards. Only the first call navigates:
 * several requests can fail with 401 at once (the list, the conversation, /api/info).
 */
export function goToLogin() {
  if (_leaving) return;
  _leaving = true;
  const next = location.pathname + location.search;
  location.assign(url(`/login?${new URLSearchParams({ next })}`));
}

/**
 * @typedef {object} RequestOptions
 * @property {unknown} [body]
 * @property {Blob} [jsonFile]  a file of JSON, sent as it is (streamed, never read here)
 * @property {string} [accept]
 * @property {Record<string, string>} [headers]
 * @property {AbortSignal} [signal]
 * @property {boolean} [loginOn401]  go to the login page on 401 (default true)
 */

/**
 * Send a request; resolve with the response if it is 2xx, else throw an ApiError.
 * Request bodies are always JSON: the server accepts nothing else on POST/PATCH, which
 * keeps plain cross-site form posts from reaching it.
 * A 401 means the session is missing or has expired (accounts mode: local mode has no
 * 401), so the page goes to the login page. The error is still thrown, so no caller
 * mistakes the failed request for a success while the browser navigates.
 * @param {string} method
 * @param {string} path
 * @param {RequestOptions} [options]
 * @returns {Promise<Response>}
 */
async function _request(method, path, options = {}) {
  /** @type {Record<string, string>} */
  const headers = { Accept: options.accept ?? 'application/json', ...options.headers };
  /** @type {RequestInit} */
  const init = { method, headers, cache: 'no-store', signal: options.signal };
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(options.body);
  } else if (options.jsonFile !== undefined) {
    // Said to be JSON whatever type the browser guessed from the file's name: the server
    // takes no other type, and reads (and checks) the JSON itself.
    headers['Content-Type'] = 'application/json';
    init.body = options.jsonFile;
  }
  const response = await fetch(url(path), init);
  if (!response.ok) {
    // Not when the server said it runs in local mode: a 401 then comes from something
    // in front of Parley, and Parley's login page would not help.
    if (response.status === 401 && options.loginOn401 !== false && _mode !== 'local') goToLogin();
    throw new ApiError(response.status, await _detail(response), _retryAfter(response));
  }
  return response;
}

/**
 * The seconds a 429 asks the client to wait (Retry-After is seconds or an HTTP date).
 * @param {Response} response
 * @returns {number | null}
 */
function _retryAfter(response) {
  const value = response.headers.get('Retry-After')?.trim();
  if (!value) return null;
  if (/^\d+$/.test(value)) return Number(value);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/**
 * The `detail` of an error answer. Be lenient: a proxy in front of Parley may answer
 * with HTML, and FastAPI's own validation errors carry a list of objects.
 * @param {Response} response
 * @returns {Promise<string>}
 */
async function _detail(response) {
  const fallback = `The server answered ${response.status} ${response.statusText}`.trim() + '.';
  try {
    /** @type {unknown} */
    const body = await response.json();
    if (body && typeof body === 'object' && 'detail' in body) {
      const { detail } = body;
      if (typeof detail === 'string' && detail) return detail;
      if (Array.isArray(detail)) {
        const texts = detail.map((d) => (d && typeof d === 'object' && 'msg' in d ? String(d.msg) : ''));
        const joined = texts.filter(Boolean).join(' ');
        if (joined) return joined;
      }
    }
  } catch {
    // not JSON: use the fallback
  }
  return fallback;
}

/**
 * JSON in, JSON out, on any of Parley's paths (modules that add calls of their own use it).
 * @template T
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<T>}
 */
export async function requestJson(method, path, body) {
  const response = await _request(method, path, { body });
  return /** @type {Promise<T>} */ (response.json());
}

/** @param {string} id */
const _conv = (id) => `/api/conversations/${encodeURIComponent(id)}`;

/** @returns {Promise<Info>} */
export const getInfo = () => requestJson('GET', '/api/info');

/**
 * Pinned conversations first, then the most recently active.
 * @param {string | null} [cursor]
 * @param {{archived?: boolean}} [options]  archived: list the archive instead
 * @returns {Promise<Page<Conversation>>}
 */
export function listConversations(cursor, options = {}) {
  const query = new URLSearchParams({ limit: '50' });
  if (cursor) query.set('cursor', cursor);
  if (options.archived) query.set('archived', 'true');
  return requestJson('GET', `/api/conversations?${query}`);
}

/** @returns {Promise<Conversation>} */
export const createConversation = () => requestJson('POST', '/api/conversations', {});

/**
 * @param {string} id
 * @returns {Promise<Conversation>}
 */
export const getConversation = (id) => requestJson('GET', _conv(id));

/**
 * One message, with each text part's markdown source (which the list leaves out).
 * @param {string} id
 * @param {string} messageId
 * @returns {Promise<Message>}
 */
export const getMessage = (id, messageId) => requestJson('GET', `${_conv(id)}/messages/${encodeURIComponent(messageId)}`);

/**
 * @param {string} id
 * @param {string} title
 * @returns {Promise<Conversation>}
 */
export const renameConversation = (id, title) => requestJson('PATCH', _conv(id), { title });

/**
 * @param {string} id
 * @param {boolean} pinned
 * @returns {Promise<Conversation>}
 */
export const setPinned = (id, pinned) => requestJson('PATCH', _conv(id), { pinned });

/**
 * @param {string} id
 * @param {boolean} archived
 * @returns {Promise<Conversation>}
 */
export const setArchived = (id, archived) => requestJson('PATCH', _conv(id), { archived });

/**
 * Choose the conversation's model and instructions (a 422 says why they were refused).
 * @param {string} id
 * @param {ConversationSettings} settings
 * @returns {Promise<Conversation>}
 */
export const updateSettings = (id, settings) => requestJson('PATCH', _conv(id), settings);

/**
 * One tool of an MCP server, named as the model calls it (with the server's prefix).
 * @typedef {object} McpTool
 * @property {string} name
 * @property {string | null} description
 * @property {boolean} read_only       the server says it only reads
 * @property {boolean} needs_approval  a call waits for the user's approval
 */

/**
 * An MCP server the operator configured.
 * @typedef {object} McpServer
 * @property {string} name
 * @property {'running' | 'disabled' | 'error'} status
 * @property {string | null} error  why it could not start
 * @property {'always' | 'never' | 'unless-read-only'} approval
 * @property {McpTool[]} tools
 */

/** @returns {Promise<{servers: McpServer[]}>} the MCP servers and their tools */
export const getTools = () => requestJson('GET', '/api/tools');

/**
 * Switch MCP servers off for a conversation's next replies (all others on).
 * @param {string} id
 * @param {string[]} toolsOff
 * @returns {Promise<Conversation>}
 */
export const setToolsOff = (id, toolsOff) => requestJson('PATCH', _conv(id), { tools_off: toolsOff });

/** @returns {Promise<ModelChoice[]>} the models to choose from, the default first */
export const listModels = () => requestJson('GET', '/api/models');

/**
 * @param {string} id
 * @returns {Promise<ConversationUsage>}
 */
export const getUsage = (id) => requestJson('GET', `${_conv(id)}/usage`);

/**
 * @param {string} id
 * @returns {Promise<void>}
 */
export async function deleteConversation(id) {
  await _request('DELETE', _conv(id));
}

/**
 * A new conversation holding a copy of the branch from its root up to `messageId`.
 * @param {string} id
 * @param {string} messageId
 * @returns {Promise<Conversation>}
 */
export const forkConversation = (id, messageId) => requestJson('POST', `${_conv(id)}/fork`, { message_id: messageId });

/**
 * Make the conversation's current branch the newest one through `messageId` (so that it
 * is the branch shown, here and on every device, and the history the model gets).
 * 409 while a reply is being generated in the conversation.
 * @param {string} id
 * @param {string} messageId
 * @returns {Promise<Conversation>}
 */
export const switchBranch = (id, messageId) => requestJson('PUT', `${_conv(id)}/branch`, { message_id: messageId });

/**
 * A page of the current branch: the newest, or older than `before`, newer than `after`,
 * or with `around` in the middle (422 if that message is not on the current branch).
 * @param {string} id
 * @param {MessageQuery} [where]
 * @returns {Promise<MessagePage>}
 */
export function listMessages(id, where = {}) {
  const query = new URLSearchParams({ limit: String(where.limit ?? 100) });
  for (const key of /** @type {const} */ (['before', 'after', 'around'])) {
    const value = where[key];
    if (value) query.set(key, value);
  }
  return requestJson('GET', `${_conv(id)}/messages?${query}`);
}

/**
 * Search the titles and messages of the user's conversations (archived ones too).
 * @param {string} q
 * @param {{cursor?: string | null, limit?: number, signal?: AbortSignal}} [options]
 * @returns {Promise<Page<SearchResult>>}
 */
export async function search(q, options = {}) {
  const query = new URLSearchParams({ q, limit: String(options.limit ?? 20) });
  if (options.cursor) query.set('cursor', options.cursor);
  const response = await _request('GET', `/api/search?${query}`, { signal: options.signal });
  return /** @type {Promise<Page<SearchResult>>} */ (response.json());
}

/**
 * Ask the server to stop a run; the run's stream then ends with `done` (status stopped).
 * The empty JSON body is there only so that every POST is JSON.
 * @param {string} runId
 * @returns {Promise<void>}
 */
export async function stopRun(runId) {
  await _request('POST', `/api/runs/${encodeURIComponent(runId)}/stop`, { body: {} });
}

/**
 * Who is using the page, and whether Parley has accounts at all. Never answers 401.
 * @returns {Promise<Me>}
 */
export async function getMe() {
  /** @type {Me} */
  const me = await requestJson('GET', '/api/auth/me');
  _mode = me.mode;
  return me;
}

/**
 * Log in, which sets the session cookie. A 401 here is an answer (wrong name or
 * password) for the login form to show, not a reason to go to the login page.
 * @param {string} name
 * @param {string} password
 * @returns {Promise<User>}  throws an ApiError on 401, on 429 (with `retryAfter`), …
 */
export async function login(name, password) {
  const response = await _request('POST', '/api/auth/login', {
    body: { name, password },
    loginOn401: false,
  });
  /** @type {{user: User}} */
  const body = await response.json();
  return body.user;
}

/**
 * Log out: the server deletes the session and clears the cookie. A 401 means there was
 * no session any more, which is what logging out wants anyway.
 * @returns {Promise<void>}
 */
export async function logout() {
  try {
    await _request('POST', '/api/auth/logout', { body: {}, loginOn401: false });
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) throw error;
  }
}

/** @returns {Promise<{items: Token[]}>} the user's API tokens */
export const listTokens = () => requestJson('GET', '/api/tokens');

/**
 * @param {string} name
 * @returns {Promise<NewToken>}
 */
export const createToken = (name) => requestJson('POST', '/api/tokens', { name });

/**
 * @param {string} id
 * @returns {Promise<void>}
 */
export async function revokeToken(id) {
  await _request('DELETE', `/api/tokens/${encodeURIComponent(id)}`);
}

/**
 * The conversation's shared link, or null when it has none.
 * @param {string} id
 * @returns {Promise<Share | null>}
 */
export async function getShare(id) {
  try {
    return await requestJson('GET', `${_conv(id)}/share`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

/**
 * Share the conversation as it is now: a new link, or the same link with a new snapshot.
 * @param {string} id
 * @param {boolean} includeFiles
 * @returns {Promise<Share>}
 */
export const putShare = (id, includeFiles) => requestJson('PUT', `${_conv(id)}/share`, { include_files: includeFiles });

/** @returns {Promise<{items: Share[]}>} the user's shared links, newest first */
export const listShares = () => requestJson('GET', '/api/shares');

/**
 * Revoke a shared link: its page is gone (404) for everyone.
 * @param {string} shareId
 * @returns {Promise<void>}
 */
export async function revokeShare(shareId) {
  await _request('DELETE', `/api/shares/${encodeURIComponent(shareId)}`);
}

/**
 * A shared link as a whole URL, to give to someone.
 * @param {Share} share
 * @returns {string}
 */
export const shareLink = (share) => new URL(share.url, location.origin).href;

/**
 * Where a conversation downloads from: JSON (Parley's format: every branch, its files) or
 * Markdown (the branch shown).
 * @param {string} id
 * @param {'json' | 'markdown'} format
 * @returns {string}
 */
export const exportUrl = (id, format) => url(`${_conv(id)}/export?${new URLSearchParams({ format })}`);

/**
 * Import a file of conversations (Parley JSON, ChatGPT's or Claude's conversations.json).
 * The file itself is the body, so a large export is streamed, never read into the page.
 * 413 (too large) and 422 (not JSON, cut short, not a known shape) write nothing.
 * @param {Blob} file
 * @returns {Promise<ImportResult>}
 */
export async function importFile(file) {
  const response = await _request('POST', '/api/import', { jsonFile: file });
  return /** @type {Promise<ImportResult>} */ (response.json());
}

/**
 * Upload a file to attach to a prompt. The one request that is not JSON: multipart, with
 * the X-Parley-Upload header, which the server requires there because a cross-site form
 * can send multipart but no custom header. 413 (too large, storage full) and 415 (a type
 * Parley does not take) carry a sentence to show.
 * @param {File} file
 * @returns {Promise<UploadedFile>}
 */
export async function uploadFile(file) {
  const body = new FormData();
  body.append('file', file, file.name);
  const response = await fetch(url('/api/files'), {
    method: 'POST',
    headers: { Accept: 'application/json', 'X-Parley-Upload': '1' },
    body,
    cache: 'no-store',
  });
  if (!response.ok) {
    if (response.status === 401 && _mode !== 'local') goToLogin();
    throw new ApiError(response.status, await _detail(response), _retryAfter(response));
  }
  return /** @type {Promise<UploadedFile>} */ (response.json());
}

/** @param {string} id  an uploaded file's */
export const fileUrl = (id) => url(`/api/files/${encodeURIComponent(id)}`);

/**
 * Post a prompt; resolves once the server has accepted it (2xx) with the event stream.
 * @param {string} conversationId
 * @param {string} prompt
 * @param {AbortSignal} signal
 * @param {string[]} [files]  ids of uploaded files it sends
 * @returns {Promise<Response>}
 */
export function sendMessage(conversationId, prompt, signal, files = []) {
  return _request('POST', `${_conv(conversationId)}/messages`, {
    body: files.length ? { prompt, files } : { prompt },
    accept: 'text/event-stream',
    signal,
  });
}

/**
 * Send a new version of a user message (a sibling of it): the stream starts with `user`
 * (the new version), then the reply's events, like `sendMessage`.
 * @param {string} conversationId
 * @param {string} messageId  a user message
 * @param {string} prompt
 * @param {AbortSignal} signal
 * @returns {Promise<Response>}
 */
export function editMessage(conversationId, messageId, prompt, signal) {
  return _request('POST', `${_conv(conversationId)}/messages/${encodeURIComponent(messageId)}/edit`, {
    body: { prompt },
    accept: 'text/event-stream',
    signal,
  });
}

/**
 * Generate a new version of a reply (a sibling of it) to the same prompt: the stream
 * starts with `start` (no `user` event: the prompt is not sent again).
 * The empty JSON body is there only so that every POST is JSON.
 * @param {string} conversationId
 * @param {string} messageId  an assistant message, in any status
 * @param {AbortSignal} signal
 * @returns {Promise<Response>}
 */
export function regenerateMessage(conversationId, messageId, signal) {
  return _request('POST', `${_conv(conversationId)}/messages/${encodeURIComponent(messageId)}/regenerate`, {
    body: {},
    accept: 'text/event-stream',
    signal,
  });
}

/**
 * Answer the tool calls a reply waits on; the reply goes on as a new run (its events).
 * @param {string} conversationId
 * @param {string} messageId
 * @param {Decision[]} decisions
 * @param {AbortSignal} signal
 * @returns {Promise<Response>}
 */
export function answerToolCalls(conversationId, messageId, decisions, signal) {
  return _request('POST', `${_conv(conversationId)}/messages/${encodeURIComponent(messageId)}/approvals`, {
    body: { decisions },
    accept: 'text/event-stream',
    signal,
  });
}

/**
 * Attach to a run's events. Without `afterId` the server replays the run from its
 * first event; with it, only the events after that id (each exactly once).
 * @param {string} runId
 * @param {number | null} afterId
 * @param {AbortSignal} signal
 * @returns {Promise<Response>}
 */
export function attachRun(runId, afterId, signal) {
  /** @type {Record<string, string>} */
  const headers = afterId === null ? {} : { 'Last-Event-ID': String(afterId) };
  return _request('GET', `/api/runs/${encodeURIComponent(runId)}/events`, {
    accept: 'text/event-stream',
    headers,
    signal,
  });
}

/**
 * The owner's rating of a reply (`feedback` of a listed reply; null: not rated).
 * @typedef {object} Feedback
 * @property {'good' | 'bad'} rating
 * @property {string | null} [comment]
 */

/** @typedef {Message & {feedback?: Feedback | null}} RatedMessage  a listed message, with its rating */

/**
 * @param {string} conversationId
 * @param {string} messageId
 */
const _feedbackPath = (conversationId, messageId) => `${_conv(conversationId)}/messages/${encodeURIComponent(messageId)}/feedback`;

/**
 * Rate a reply, replacing its rating and comment.
 * @param {string} conversationId
 * @param {string} messageId
 * @param {'good' | 'bad'} rating
 * @param {string | null} comment
 * @returns {Promise<Feedback>}
 */
export const rateReply = (conversationId, messageId, rating, comment) =>
  requestJson('PUT', _feedbackPath(conversationId, messageId), { rating, comment });

/**
 * Take back a reply's rating (done already if it had none).
 * @param {string} conversationId
 * @param {string} messageId
 */
export async function clearRating(conversationId, messageId) {
  await _request('DELETE', _feedbackPath(conversationId, messageId));
}
