// What the deployment tests check manifests against: the server itself. Whether it reads an
// environment variable, whether a configuration it would be given starts, and which routes answer.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type DocumentOptions, parseAllDocuments, type ParseOptions, type SchemaOptions } from 'yaml';
import { checkExposure } from '../../src/server.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';
import { hubSettingsFromEnv } from '../../src/hub/index.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const read = (path: string): string => readFileSync(`${ROOT}${path}`, 'utf8');

/** The documents of a YAML file or text; an error in any of them fails the test that reads them. */
export function yamlDocuments<T = Record<string, unknown>>(
  text: string,
  options: ParseOptions & DocumentOptions & SchemaOptions = {},
): T[] {
  return parseAllDocuments(text, options).flatMap((document) => {
    if (document.errors.length) throw new Error(document.errors.map((e) => e.message).join('\n'));
    const value = document.toJS() as T | null;
    return value === null ? [] : [value];
  });
}

/** Read by Node.js itself rather than by hubserve. */
const NODE_VARIABLES = new Set(['NODE_ENV', 'NODE_OPTIONS']);

function outcome(env: Record<string, string>): string {
  try {
    return JSON.stringify({ config: loadConfig({ env }), hub: hubSettingsFromEnv(env) });
  } catch (error) {
    return `refused: ${(error as Error).message}`;
  }
}

/**
 * Whether hubserve reads the variable: set to its manifest's value or to a probe, it changes the
 * configuration or the Hub settings, or is refused. A misspelt name changes nothing, and fails.
 */
export function readByServer(name: string, value: string): boolean {
  if (NODE_VARIABLES.has(name)) return true;
  const unset = outcome({});
  return [value, 'hubserve-probe', '1'].some((probe) => outcome({ [name]: probe }) !== unset);
}

/** The configuration a container would start with, refused as the server refuses it. */
export function startingConfig(env: Record<string, string>, models: string[] = []): Config {
  const config = loadConfig({ env, models });
  checkExposure(config);
  return config;
}

export interface Instruction {
  keyword: string;
  args: string;
}

export interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

/** The Dockerfile's stages and their instructions (continuation lines joined, comments dropped). */
export function dockerStages(text: string): Stage[] {
  const lines = text.split('\n').filter((line) => !/^\s*#/.test(line));
  const joined = lines.join('\n').replace(/\\\n/g, ' ');
  const stages: Stage[] = [];
  for (const line of joined.split('\n')) {
    const match = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!match?.[1] || match[2] === undefined) continue;
    const keyword = match[1].toUpperCase();
    const args = match[2].trim().replace(/\s+/g, ' ');
    if (keyword === 'FROM') {
      const [from = '', , name = String(stages.length)] = args.split(' ');
      stages.push({ name, from, instructions: [] });
    } else stages.at(-1)?.instructions.push({ keyword, args });
  }
  return stages;
}

/** `${NAME}`, `${NAME:-word}`, `${NAME:+word}` and `${NAME:?error}` as Docker and Compose expand them. */
export function expand(text: string, values: Record<string, string>): string {
  return text.replace(/\$\{(\w+)(?::([-+?])([^}]*))?\}/g, (_, name: string, op?: string, word = '') => {
    const value = values[name] ?? '';
    if (op === '-') return value || word;
    if (op === '+') return value ? word : '';
    if (op === '?' && !value) throw new Error(`${name}: ${word}`);
    return value;
  });
}

/** The environment a stage sets (ENV K=V ...), build arguments expanded. */
export function stageEnv(stage: Stage, buildArgs: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { keyword, args } of stage.instructions) {
    if (keyword !== 'ENV') continue;
    for (const pair of args.split(' ')) {
      const eq = pair.indexOf('=');
      env[pair.slice(0, eq)] = expand(pair.slice(eq + 1), { ...buildArgs, ...env });
    }
  }
  return env;
}
