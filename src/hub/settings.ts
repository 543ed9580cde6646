// Where models come from and go, read from the environment as huggingface_hub reads it, so that
// hubserve shares the cache, endpoint and token of Python tools on the same machine.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface HubSettings {
  /** Hub base URL, without a trailing slash. */
  endpoint: string;
  /** The Hugging Face hub cache (`models--org--name/{blobs,snapshots,refs}` folders). */
  cacheDir: string;
  /** Where converted checkpoints are kept (HUBSERVE_CONVERTED_CACHE; default <HF_HOME>/hubserve/converted). */
  convertedDir: string;
  token?: string;
  /** Never touch the network: models come from the cache only. */
  offline: boolean;
}

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

const TRUE_VALUES = new Set(['1', 'true', 'yes', 'on']);

/** huggingface_hub's `_is_true`. */
const isTruthy = (value: string | undefined): boolean =>
  value !== undefined && TRUE_VALUES.has(value.trim().toLowerCase());

const expandHome = (path: string): string =>
  path === '~' || path.startsWith('~/') ? homedir() + path.slice(1) : path;

export function hubSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): HubSettings {
  // An empty variable counts as unset (huggingface_hub would take '' as a path).
  const get = (name: string): string | undefined => env[name] || undefined;
  const hfHome = expandHome(
    get('HF_HOME') ?? join(get('XDG_CACHE_HOME') ?? join(homedir(), '.cache'), 'huggingface'),
  );
  const cacheDir = expandHome(get('HF_HUB_CACHE') ?? get('HUGGINGFACE_HUB_CACHE') ?? join(hfHome, 'hub'));
  const token =
    get('HF_TOKEN') ??
    get('HUGGING_FACE_HUB_TOKEN') ??
    storedToken(get('HF_TOKEN_PATH') ?? join(hfHome, 'token'));
  return {
    endpoint: (get('HF_ENDPOINT') ?? DEFAULT_ENDPOINT).replace(/\/+$/, ''),
    cacheDir,
    convertedDir: expandHome(get('HUBSERVE_CONVERTED_CACHE') ?? join(hfHome, 'hubserve', 'converted')),
    ...(token === undefined ? {} : { token }),
    offline: isTruthy(get('HF_HUB_OFFLINE') ?? get('TRANSFORMERS_OFFLINE')),
  };
}

/** The token `hf auth login` saved, if any. */
function storedToken(path: string): string | undefined {
  try {
    return readFileSync(expandHome(path), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
