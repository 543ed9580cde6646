// What one request may ask, set by the operator below the tasks' own bounds (256 inputs, 100,000
// characters each, 4,096 new tokens): a deployment that pays for its hardware caps what a client
// can make it do. Checked before a request is queued, whatever carried it.
import { ServeError } from '../errors.ts';

export interface RequestLimits {
  /** Inputs (texts, pairs, questions) in one request. */
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

export function checkLimits(
  limits: RequestLimits,
  inputs: unknown,
  parameters: Record<string, unknown>,
): void {
  const count = Array.isArray(inputs) && !isChat(inputs) ? inputs.length : 1;
  if (limits.max_inputs !== undefined && count > limits.max_inputs) {
    throw over('inputs in the request', count, limits.max_inputs);
  }
  const chars = longest(inputs);
  if (limits.max_input_chars !== undefined && chars > limits.max_input_chars) {
    throw over('characters in an input', chars, limits.max_input_chars);
  }
  const asked = parameters.max_new_tokens;
  if (limits.max_new_tokens !== undefined && typeof asked === 'number' && asked > limits.max_new_tokens) {
    throw over('max_new_tokens', asked, limits.max_new_tokens);
  }
}
