// Reads the configuration: defaults < hubserve.yaml < HUBSERVE_* environment < CLI flags, then
// validates the result, naming the key and the accepted values in every error.
import { existsSync, readFileSync } from 'node:fs';
import { Compile } from 'typebox/compile';
import { parse as parseYaml } from 'yaml';
import { ServeError } from '../errors.ts';
import { type Config, ConfigSchema, DEFAULTS, type ModelConfigEntry, scalarKeys } from './schema.ts';

const validator = Compile(ConfigSchema);

export interface ConfigSources {
  /** Path of a YAML file (--config / HUBSERVE_CONFIG); ./hubserve.yaml is read when present. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Values from CLI flags, by top-level key. */
  flags?: Partial<Config>;
  /** Models named on the command line: `source` or `name=source`. */
  models?: string[];
  /** Settings (task, dtype, device) for the models named on the command line. */
  modelDefaults?: Partial<ModelConfigEntry>;
}

const envName = (path: string[]): string => `HUBSERVE_${path.join('_').toUpperCase()}`;

/**
 * A list from one variable, so that a Secret or an .env line can carry it: a YAML (or JSON)
 * sequence, `HUBSERVE_API_KEYS='[{name: app, hash: "sha256:...", scopes: [infer]}]'`, or items
 * separated by commas, `HUBSERVE_CORS_ORIGINS=https://a.example,https://b.example`.
 */
function listFromEnv(name: string, raw: string): unknown[] {
  if (!/^\s*[[-]/.test(raw))
    return raw
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
  let value: unknown;
  try {
    value = parseYaml(raw);
  } catch (error) {
    throw new ServeError('invalid_config', `${name} is not valid YAML: ${(error as Error).message}`);
  }
  if (!Array.isArray(value)) throw new ServeError('invalid_config', `${name} must be a YAML list`);
  return value;
}

/** The schema's list-valued keys other than models (whose variable adds to the file's models). */
const LIST_KEYS = Object.entries(ConfigSchema.properties)
  .filter(([key, schema]) => key !== 'models' && (schema as { type?: string }).type === 'array')
  .map(([key]) => key);

function fromEnv(env: NodeJS.ProcessEnv): Partial<Config> {
  const out: Record<string, unknown> = {};
  for (const key of LIST_KEYS) {
    const name = envName([key]);
    if (env[name]) out[key] = listFromEnv(name, env[name]);
  }
  for (const { path, schema } of scalarKeys()) {
    const raw = env[envName(path)];
    if (raw === undefined || raw === '') continue;
    const type = (schema as { type?: string }).type;
    let value: unknown = raw;
    if ((type === 'integer' || type === 'number') && Number.isFinite(Number(raw))) value = Number(raw);
    if (type === 'boolean')
      value = /^(1|true|yes|on)$/i.test(raw) ? true : /^(0|false|no|off)$/i.test(raw) ? false : raw;
    let target = out;
    for (const key of path.slice(0, -1)) target = (target[key] ??= {}) as Record<string, unknown>;
    target[path.at(-1) as string] = value;
  }
  return out as Partial<Config>;
}

/** `Xenova/bert` -> name and source the id; `sentiment=./models/x` -> a name for a source. */
export function modelFromArgument(argument: string): ModelConfigEntry {
  const eq = argument.indexOf('=');
  if (eq > 0) return { name: argument.slice(0, eq), source: argument.slice(eq + 1) };
  const source = argument;
  const name = source
    .replace(/@.*$/, '')
    .replace(/^(\.{0,2}\/)+/, '')
    .split('/')
    .slice(-2)
    .join('/');
  return { name, source };
}

function describe(
  error: { instancePath: string; message: string },
  data: unknown,
  accepted?: readonly unknown[],
): string {
  const key = error.instancePath.replace(/^\//, '').replaceAll('/', '.') || '(root)';
  let value: unknown = data;
  for (const part of error.instancePath.split('/').filter(Boolean))
    value = (value as Record<string, unknown>)?.[part];
  const rule = accepted ? `must be one of ${accepted.join(', ')}` : error.message;
  return `${key}: ${rule} (got ${JSON.stringify(value)})`;
}

/** Accepted values of an enum key, for the error message. */
function acceptedValues(path: string): readonly unknown[] | undefined {
  let schema: unknown = ConfigSchema;
  for (const part of path.split('/').filter(Boolean)) {
    const s = schema as { properties?: Record<string, unknown>; items?: unknown };
    schema = /^\d+$/.test(part) ? s.items : s.properties?.[part];
  }
  return (schema as { enum?: readonly unknown[] } | undefined)?.enum;
}

export function validateConfig(candidate: unknown): Config {
  if (validator.Check(candidate)) return candidate;
  const problems = new Map<string, string>();
  for (const error of validator.Errors(candidate)) {
    // An unknown key is reported on itself ("schema is false") and on its parent: keep the parent's.
    if (problems.has(error.instancePath) || error.message === 'schema is false') continue;
    const unknown = (error.params as { additionalProperties?: string[] }).additionalProperties;
    if (unknown) {
      const where = error.instancePath.replace(/^\//, '').replaceAll('/', '.');
      problems.set(error.instancePath, `${where ? `${where}: ` : ''}unknown key(s) ${unknown.join(', ')}`);
      continue;
    }
    const accepted = acceptedValues(error.instancePath);
    problems.set(error.instancePath, describe(error, candidate, accepted));
  }
  const list = [...problems.values()];
  throw new ServeError('invalid_config', `invalid configuration:\n  ${list.join('\n  ')}`, {
    problems: list,
  });
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Later layers win key by key, into nested objects too: HUBSERVE_MEMORY_MAX_LOADED_MODELS changes
 * that one key of the file's `memory`, not the whole of it. Lists are replaced, not concatenated.
 */
function mergeLayers(...layers: object[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer)) {
      const previous = out[key];
      out[key] = isPlainObject(previous) && isPlainObject(value) ? mergeLayers(previous, value) : value;
    }
  }
  return out;
}

export function loadConfig(sources: ConfigSources = {}): Config {
  const env = sources.env ?? process.env;
  const file =
    sources.file ?? env.HUBSERVE_CONFIG ?? (existsSync('hubserve.yaml') ? 'hubserve.yaml' : undefined);
  let fromFile: Partial<Config> = {};
  if (file) {
    if (!existsSync(file)) throw new ServeError('invalid_config', `config file ${file} does not exist`);
    try {
      fromFile = (parseYaml(readFileSync(file, 'utf8')) ?? {}) as Partial<Config>;
    } catch (error) {
      throw new ServeError(
        'invalid_config',
        `config file ${file} is not valid YAML: ${(error as Error).message}`,
      );
    }
  }
  const merged = mergeLayers(DEFAULTS, fromFile, fromEnv(env), sources.flags ?? {}) as Partial<Config>;
  const envModels = env.HUBSERVE_MODELS ? listFromEnv('HUBSERVE_MODELS', env.HUBSERVE_MODELS) : [];
  const argumentModels = [
    ...envModels.map((m) => (typeof m === 'string' ? modelFromArgument(m) : (m as ModelConfigEntry))),
    ...(sources.models ?? []).map((m) => ({ ...modelFromArgument(m), ...sources.modelDefaults })),
  ];
  merged.models = [...(merged.models ?? []), ...argumentModels];
  const config = validateConfig(merged);
  const duplicate = config.models.map((m) => m.name).find((n, i, all) => all.indexOf(n) !== i);
  if (duplicate) throw new ServeError('invalid_config', `models: the name "${duplicate}" is used twice`);
  return config;
}
