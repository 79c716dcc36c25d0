// Tokens, prices and costs as text: a reply's usage, a conversation's totals, a model's
// price. A cost or price the server does not know (null) is "—", never $0.

/** @typedef {import('./api.js').Usage} Usage */
/** @typedef {import('./api.js').ConversationUsage} ConversationUsage */

/** @param {number} value */
const _n = (value) => value.toLocaleString();

/**
 * A reply's usage: "1,200 in · 80 out · 300 cached · $0.0012".
 * @param {Usage} usage
 * @returns {string}
 */
export function usageText(usage) {
  const parts = [`${_n(usage.input_tokens)} in`, `${_n(usage.output_tokens)} out`];
  if (usage.cache_read_tokens) parts.push(`${_n(usage.cache_read_tokens)} cached`);
  if (usage.reasoning_tokens) parts.push(`${_n(usage.reasoning_tokens)} reasoning`);
  parts.push(usage.cost == null ? 'cost —' : dollars(usage.cost));
  return parts.join(' · ');
}

/**
 * Whether the provider reported anything: a reply stopped or failed before it did has
 * all zeros, which are no count.
 * @param {Usage} usage
 * @returns {boolean}
 */
export function reported(usage) {
  const { input_tokens, output_tokens, cache_read_tokens, reasoning_tokens, cost } = usage;
  return Boolean(input_tokens || output_tokens || cache_read_tokens || reasoning_tokens || cost);
}

/**
 * A conversation's totals: "3 replies · 4,100 in · 350 out · $0.02 (1 unpriced)".
 * A total that leaves out unpriced replies says so: it is a lower bound.
 * @param {ConversationUsage} totals
 * @returns {string}
 */
export function totalsText(totals) {
  const replies = `${_n(totals.replies)} ${totals.replies === 1 ? 'reply' : 'replies'}`;
  let cost = totals.cost == null ? 'cost —' : dollars(totals.cost);
  if (totals.cost != null && totals.unpriced > 0) cost += ` (${_n(totals.unpriced)} unpriced)`;
  return [replies, `${_n(totals.input_tokens)} in`, `${_n(totals.output_tokens)} out`, cost].join(' · ');
}

/**
 * A cost in USD, with the digits a small amount needs ($0.0012, not $0.00).
 * @param {number} cost
 * @returns {string}
 */
export function dollars(cost) {
  if (cost === 0) return '$0';
  const digits = cost >= 1 ? 2 : Math.min(8, 1 - Math.floor(Math.log10(cost)));
  return `$${cost.toFixed(digits)}`;
}

/**
 * A price per million tokens: "$2.50", or "—" when unknown.
 * @param {number | null} price
 * @returns {string}
 */
export function price(price) {
  return price == null ? '—' : dollars(price);
}

/**
 * A number of tokens, short: "128k", "1M", "8,192".
 * @param {number} tokens
 * @returns {string}
 */
export function shortTokens(tokens) {
  if (tokens >= 1_000_000 && tokens % 1_000_000 === 0) return `${tokens / 1_000_000}M`;
  if (tokens >= 1_000 && tokens % 1_000 === 0) return `${tokens / 1_000}k`;
  return _n(tokens);
}
