// What a model source string names: a local folder, or a Hub repo at a revision.
import { statSync } from 'node:fs';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { ServeError } from '../errors.ts';

export type ModelSource = { kind: 'local'; path: string } | { kind: 'hub'; repo: string; revision: string };

const DEFAULT_REVISION = 'main';

// huggingface_hub's validate_repo_id: `name` or `namespace/name`, word characters, '-' and '.', each part
// starting and ending with a letter, digit or '_', the name at most 96 long.
const REPO_ID = /^(?:\w(?:[\w.-]*\w)?\/)?\w(?:[\w.-]{0,94}\w)?$/;

const isRepoId = (id: string): boolean =>
  REPO_ID.test(id) && !id.includes('--') && !id.includes('..') && !id.endsWith('.git');

/** A branch, tag, commit or `refs/pr/N`: git's ref name rules (git check-ref-format), which the Hub follows. */
function isRevision(revision: string): boolean {
  return (
    revision.length > 0 &&
    revision.length <= 255 &&
    !/[\s\p{Cc}~^:?*[\\@]/u.test(revision) &&
    !revision.includes('..') &&
    !revision.includes('//') &&
    !revision.startsWith('/') &&
    !revision.endsWith('/') &&
    !revision.endsWith('.') &&
    !revision.endsWith('.lock') &&
    !revision.split('/').some((part) => part.startsWith('.'))
  );
}

const isDirectory = (path: string): boolean =>
  statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;

const LOCAL_PREFIX = /^(?:\/|\.\.?(?:\/|$)|~(?:\/|$))/;

/**
 * Parses `org/name`, `name`, either with `@revision` (split at the last `@`), or a local folder: a path
 * starting with `/`, `./`, `../` or `~`, or any existing directory (as transformers' from_pretrained does).
 */
export function parseModelSource(source: string, cwd = process.cwd()): ModelSource {
  if (LOCAL_PREFIX.test(source)) {
    return {
      kind: 'local',
      path: resolve(cwd, source.startsWith('~') ? homedir() + source.slice(1) : source),
    };
  }
  if (source !== '' && isDirectory(resolve(cwd, source)))
    return { kind: 'local', path: resolve(cwd, source) };

  const at = source.lastIndexOf('@');
  const repo = at < 0 ? source : source.slice(0, at);
  const revision = at < 0 ? DEFAULT_REVISION : source.slice(at + 1);
  if (!isRepoId(repo)) {
    throw new ServeError(
      'invalid_config',
      `model source "${source}" is neither an existing folder nor a Hub model id: a Hub id is "name" or ` +
        `"org/name" (optionally "@revision"), made of letters, digits, "-", "_" and ".", each part starting ` +
        `and ending with a letter, digit or "_", without "--" or "..", the name at most 96 characters; ` +
        `a local folder starts with "/", "./", "../" or "~"`,
      { source },
    );
  }
  if (!isRevision(revision)) {
    throw new ServeError(
      'invalid_config',
      `model source "${source}" has an invalid revision "${revision}": give a branch, tag or commit ` +
        `after the "@" (e.g. "${repo}@main", "${repo}@v1.0", "${repo}@refs/pr/1")`,
      { source, repo, revision },
    );
  }
  return { kind: 'hub', repo, revision };
}
