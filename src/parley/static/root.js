// Where Parley lives on its host: "/" on its own, "/chat/" when a developer mounts it under a
// path of their own app (create_app, docs/embedding.md). The server writes it into each page's
// <meta name="parley-root">; every URL the scripts build goes through `url`, so none of them
// hard-codes the host's root.

const _meta = document.querySelector('meta[name="parley-root"]');

/** Parley's root path, ending in "/". */
export const ROOT = _meta?.getAttribute('content') || '/';

/**
 * A path of Parley's ("/api/info", "/c/abc") as a path of the host.
 * @param {string} path  starting with "/"
 * @returns {string}
 */
export const url = (path) => ROOT + path.replace(/^\//, '');

/**
 * A host path as Parley's own ("/chat/c/abc" → "/c/abc"), or null when it is not under the root.
 * @param {string} path
 * @returns {string | null}
 */
export function parleyPath(path) {
  if (path.startsWith(ROOT)) return '/' + path.slice(ROOT.length);
  return path === ROOT.replace(/\/$/, '') ? '/' : null;
}
