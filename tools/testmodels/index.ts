// The generated test models: what exists, where it is written, and regeneration when the generator
// changed (each model folder carries a stamp with a hash of this folder's sources).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { folderFiles, type ModelFolder } from './layout.ts';
import * as absa from './models/absa.ts';
import * as bertBase from './models/bert-base.ts';
import * as embeddings from './models/embeddings.ts';
import * as fillMask from './models/fill-mask.ts';
import * as gpt2 from './models/gpt2.ts';
import * as ner from './models/ner.ts';
import * as nli from './models/nli.ts';
import * as qa from './models/qa.ts';
import * as sentiment from './models/sentiment.ts';
import * as t5 from './models/t5.ts';

const here = dirname(fileURLToPath(import.meta.url));

/** Where `npm run models` writes, and where the server's demo configuration looks. */
export const DEFAULT_MODELS_DIR = resolve(here, '../../models');

/** The tiny models, one per task: repo id -> builder. */
export const TINY_MODELS = {
  'hubserve-test/tiny-sentiment': sentiment.build,
  'hubserve-test/tiny-nli': nli.build,
  'hubserve-test/tiny-ner': ner.build,
  'hubserve-test/tiny-qa': qa.build,
  'hubserve-test/tiny-embeddings': embeddings.build,
  'hubserve-test/tiny-fill-mask': fillMask.build,
  'hubserve-test/tiny-gpt2': gpt2.build,
  'hubserve-test/tiny-t5-translate': t5.buildTranslation,
  'hubserve-test/tiny-t5-summarize': t5.buildSummarization,
  'hubserve-test/tiny-absa': absa.build,
} as const satisfies Record<string, () => ModelFolder>;

export type TinyModelId = keyof typeof TINY_MODELS;

/** Benchmark-only models: large, generated on demand, never committed. */
export const BENCH_MODELS = {
  'hubserve-test/bert-base-bench': bertBase.build,
} as const satisfies Record<string, () => ModelFolder>;

const ALL_MODELS: Record<string, () => ModelFolder> = { ...TINY_MODELS, ...BENCH_MODELS };

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : [join(dir, e.name)]))
    .sort();
}

let fingerprint: string | undefined;

/** A hash of the generator's own sources: a change to them means the models must be rebuilt. */
export function generatorFingerprint(): string {
  if (fingerprint === undefined) {
    const h = createHash('sha256');
    for (const file of sourceFiles(here)) h.update(file.slice(here.length)).update(readFileSync(file));
    fingerprint = h.digest('hex').slice(0, 16);
  }
  return fingerprint;
}

const STAMP = '.generator';

export interface Generated {
  id: string;
  path: string;
  bytes: number;
  ms: number;
}

/** Builds one model and swaps it into `root/<id>` whole, so a reader never sees half a model. */
export function generateModel(root: string, id: string): Generated {
  const build = ALL_MODELS[id];
  if (!build) throw new Error(`unknown test model ${id}; known: ${Object.keys(ALL_MODELS).join(', ')}`);
  const started = performance.now();
  const target = join(root, id);
  const staging = `${target}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  let bytes = 0;
  for (const [path, content] of folderFiles(build())) {
    const file = join(staging, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
    bytes += typeof content === 'string' ? Buffer.byteLength(content) : content.byteLength;
  }
  writeFileSync(join(staging, STAMP), generatorFingerprint());
  rmSync(target, { recursive: true, force: true });
  try {
    renameSync(staging, target);
  } catch (error) {
    // Another process (a parallel test file) swapped in the same model first: theirs is as good.
    rmSync(staging, { recursive: true, force: true });
    if (!isCurrent(root, id)) throw error;
  }
  return { id, path: target, bytes, ms: performance.now() - started };
}

export function isCurrent(root: string, id: string): boolean {
  const stamp = join(root, id, STAMP);
  return existsSync(stamp) && readFileSync(stamp, 'utf8') === generatorFingerprint();
}

/**
 * Makes sure the models exist under `root` as this generator builds them (missing or stale ones are
 * regenerated) and returns `root`. The tiny models by default.
 */
export function ensureTestModels(
  root = DEFAULT_MODELS_DIR,
  ids: readonly string[] = Object.keys(TINY_MODELS),
): string {
  for (const id of ids) if (!isCurrent(root, id)) generateModel(root, id);
  return root;
}

/** Path of a generated tiny model's folder, generating the tiny models first if needed. */
export function testModelPath(id: TinyModelId, root = DEFAULT_MODELS_DIR): string {
  return join(ensureTestModels(root), id);
}
