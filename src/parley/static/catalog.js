// The models to choose from (GET /api/models), fetched once per page and kept, and how
// one is described: in the Model list, and in the line under it.

import * as api from './api.js';
import { price, shortTokens } from './usage.js';

/** @typedef {import('./api.js').ModelChoice} ModelChoice */

/** @type {Promise<ModelChoice[]> | null} */
let _models = null;

/**
 * The models, the default first. The list is the operator's and changes only with a
 * restart, so one request serves the page; a failed one is asked again next time.
 * @returns {Promise<ModelChoice[]>}
 */
export function models() {
  if (!_models) {
    _models = api.listModels();
    _models.catch(() => {
      _models = null;
    });
  }
  return _models;
}

/**
 * An option's text: "openai:gpt-4o (default) · 128k · $2.50 / $10.00".
 * @param {ModelChoice} choice
 * @param {boolean} isDefault
 * @returns {string}
 */
export function optionLabel(choice, isDefault) {
  const parts = [isDefault ? `${choice.id} (default)` : choice.id];
  if (choice.context_window) parts.push(shortTokens(choice.context_window));
  const known = choice.input_price != null || choice.output_price != null;
  parts.push(known ? `${price(choice.input_price)} / ${price(choice.output_price)}` : 'price —');
  return parts.join(' · ');
}

/**
 * What is known of a model, in a sentence or three (shown under the list).
 * @param {ModelChoice} choice
 * @returns {string}
 */
export function describe(choice) {
  const context = choice.context_window
    ? `Context window ${choice.context_window.toLocaleString()} tokens.`
    : 'Context window unknown.';
  const prices =
    `Price per million tokens: ${price(choice.input_price)} in, ${price(choice.output_price)} out.`;
  const takes = /** @type {const} */ (['images', 'documents']).map((kind) => {
    const assumed = choice.assumed.includes(kind) ? ' (assumed)' : '';
    return `${choice[kind] ? 'takes' : 'no'} ${kind}${assumed}`;
  });
  return `${context} ${prices} ${_capital(takes.join(', '))}.`;
}

/** @param {string} text */
const _capital = (text) => text.charAt(0).toUpperCase() + text.slice(1);
