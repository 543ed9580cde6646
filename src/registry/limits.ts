// What one request may ask, set by the operator below the tasks' own bounds (256 inputs, 100,000
// characters each, 4,096 new tokens): a deployment that pays for its hardware caps what a client
// can make it do. Checked before a request is queued, whatever carried it.
import { ServeError } from '../errors.ts';
import { DEFAULT_MAX_NEW_TOKENS } from '../tasks/generation.ts';

export interface RequestLimits {
  /** Inputs in one request: texts, pairs, sentences to compare or rank, times the labels to try. */
  max_inputs?: number;
  /** Characters in any one text of a request. */
  max_input_chars?: number;
  /** Tokens a generation may be asked for. */
  max_new_tokens?: number;
}

/** A chat (messages with roles) is one input, however many messages it has. */
const isChat = (inputs: unknown[]): boolean =>
  inputs.length > 0 && inputs.every((m) => typeof m === 'object' && m !== null && 'role' in m);

/** The longest string anywhere in `value`. */
function longest(value: unknown): number {
  if (typeof value === 'string') return value.length;
  if (Array.isArray(value)) return value.reduce<number>((n, v) => Math.max(n, longest(v)), 0);
  if (value && typeof value === 'object') return longest(Object.values(value));
  return 0;
}

function over(what: string, value: number, limit: number): ServeError {
  return new ServeError('invalid_input', `${what}: ${value}, over this server's limit of ${limit}`, {
    limit,
    value,
  });
}

/** The model runs a request asks for: its inputs, the lists inside one, times the labels to try. */
function inputCount(inputs: unknown, parameters: Record<string, unknown>): number {
  let count = 1;
  if (Array.isArray(inputs)) count = isChat(inputs) ? 1 : inputs.length;
  else if (inputs && typeof inputs === 'object') {
    // {source_sentence, sentences}, {query, texts}: the list is what runs.
    count = Math.max(1, ...Object.values(inputs).map((v) => (Array.isArray(v) ? v.length : 1)));
  }
  const labels = parameters.candidate_labels;
  return Array.isArray(labels) ? count * Math.max(1, labels.length) : count;
}

/**
 * Refuses a request past the limits; the parameters to run it with (a generation that does not say
 * how long gets the limit, when that is below the task's default).
 */
export function checkLimits(
  limits: RequestLimits,
  inputs: unknown,
  parameters: Record<string, unknown>,
  generates: boolean,
): Record<string, unknown> {
  const count = inputCount(inputs, parameters);
  if (limits.max_inputs !== undefined && count > limits.max_inputs) {
    throw over('inputs in the request', count, limits.max_inputs);
  }
  const chars = longest(inputs);
  if (limits.max_input_chars !== undefined && chars > limits.max_input_chars) {
    throw over('characters in an input', chars, limits.max_input_chars);
  }
  const asked = parameters.max_new_tokens;
  const most = limits.max_new_tokens;
  if (most !== undefined && typeof asked === 'number' && asked > most) {
    throw over('max_new_tokens', asked, most);
  }
  return generates && most !== undefined && asked === undefined
    ? { ...parameters, max_new_tokens: Math.min(most, DEFAULT_MAX_NEW_TOKENS) }
    : parameters;
}
