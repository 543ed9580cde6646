// assert.throws predicates for ServeErrors: the code, and what the message says.
import assert from 'node:assert/strict';
import { type ErrorCode, isServeError } from '../../src/errors.ts';

export const refusedWith =
  (code: ErrorCode, text?: RegExp) =>
  (error: unknown): boolean => {
    assert.ok(isServeError(error), `a ServeError, not ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (text) assert.match(error.message, text);
    return true;
  };
