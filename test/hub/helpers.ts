// Shared by the hub tests: temp folders and assertions on ServeErrors.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { isServeError, type ErrorCode, type ServeError } from '../../src/errors.ts';

const made: string[] = [];
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temp folder, removed once the test file is done (wherever it was made: hooks included). */
export function tempDir(prefix = 'hubserve-hub-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

function check(error: unknown, code: ErrorCode, patterns: RegExp[]): ServeError {
  assert.ok(isServeError(error), `expected a ServeError, got ${String(error)}`);
  assert.equal(error.code, code, `wrong code for: ${error.message}`);
  for (const pattern of patterns) assert.match(error.message, pattern);
  return error;
}

/** Asserts the promise rejects with a ServeError of `code` whose message matches every pattern. */
export async function rejectsWith(
  promise: Promise<unknown>,
  code: ErrorCode,
  ...patterns: RegExp[]
): Promise<ServeError> {
  try {
    await promise;
  } catch (error) {
    return check(error, code, patterns);
  }
  assert.fail(`expected a ServeError ${code}`);
}

export function throwsWith(fn: () => unknown, code: ErrorCode, ...patterns: RegExp[]): ServeError {
  try {
    fn();
  } catch (error) {
    return check(error, code, patterns);
  }
  assert.fail(`expected a ServeError ${code}`);
}
