// A checkpoint's tensors as a converter asks for them: by Hugging Face's names under the base model's
// prefix (present in head checkpoints, absent in bare ones), old `gamma`/`beta` names accepted, shapes
// checked against the config, and what the body holds but the graph does not use reported.
import { ServeError } from '../errors.ts';
import type { Checkpoint } from './checkpoint/checkpoint.ts';
import { transpose } from './onnx/matrix.ts';

/** Buffers that checkpoints carry and no graph needs. */
const IGNORED = [/(^|\.)position_ids$/, /(^|\.)attn\.(masked_)?bias$/, /(^|\.)rotary_emb\.inv_freq$/];

const RENAMES: readonly [string, string][] = [
  ['.weight', '.gamma'],
  ['.bias', '.beta'],
];

const unusedTensors = (unused: readonly string[]): ServeError =>
  new ServeError(
    'bad_checkpoint',
    `the checkpoint has tensors the config's model does not use: ${unused.slice(0, 5).join(', ')}` +
      (unused.length > 5 ? ` and ${unused.length - 5} more` : '') +
      ' (does config.json match the weights?)',
    { tensors: unused.slice(0, 20) },
  );

export type Lazy = () => Float32Array;

export class Weights {
  private readonly used = new Set<string>();
  /** The base model's prefix as the checkpoint spells it ('' in bare checkpoints). */
  readonly bodyPrefix: string;

  constructor(
    private readonly checkpoint: Checkpoint,
    basePrefix: string,
  ) {
    const prefixed = [...checkpoint.tensors.keys()].some((name) => name.startsWith(`${basePrefix}.`));
    this.bodyPrefix = prefixed ? `${basePrefix}.` : '';
  }

  /** A body tensor (under the base prefix), e.g. `embeddings.word_embeddings.weight`. */
  body(name: string, shape: readonly number[]): Lazy {
    return this.tensor(this.bodyPrefix + name, shape);
  }

  /** Whether the checkpoint has this tensor (full name), also under its old LayerNorm name. */
  has(name: string): boolean {
    return this.stored(name) !== undefined;
  }

  /** A tensor by its full name, with the values read when the graph is written. */
  tensor(name: string, shape: readonly number[]): Lazy {
    const stored = this.stored(name);
    if (stored === undefined) {
      throw new ServeError('bad_checkpoint', `the checkpoint has no tensor ${name}, which the model needs`, {
        tensor: name,
      });
    }
    const entry = this.checkpoint.tensors.get(stored);
    const actual = entry?.shape ?? [];
    if (actual.length !== shape.length || actual.some((d, i) => d !== shape[i])) {
      throw new ServeError(
        'bad_checkpoint',
        `tensor ${stored} has shape [${actual.join(', ')}], the config makes it [${shape.join(', ')}]`,
        { tensor: stored, shape: actual, expected: shape },
      );
    }
    this.used.add(stored);
    return () => this.checkpoint.readFloat32(stored);
  }

  /** A linear layer's weight [out, in] as MatMul takes it: [in, out]. */
  transposed(name: string, outDim: number, inDim: number): Lazy {
    const read = this.tensor(name, [outDim, inDim]);
    return () => transpose(read(), outDim, inDim);
  }

  /**
   * Fails when the base model holds tensors the graph does not use (more layers than the config says,
   * a part of another architecture): a sign that config and checkpoint disagree. Other heads' tensors
   * (a pre-training head beside the body) are left alone, as transformers does, and so are body parts
   * the chosen head does not need (`optional`, relative to the body, e.g. BERT's pooler).
   */
  checkBodyUsed(optional: readonly RegExp[] = []): void {
    const unused = [...this.checkpoint.tensors.keys()].filter(
      (name) =>
        !this.used.has(name) &&
        !optional.some((pattern) => pattern.test(name.slice(this.bodyPrefix.length))) &&
        (this.bodyPrefix === '' || name.startsWith(this.bodyPrefix)) &&
        !IGNORED.some((pattern) => pattern.test(name)) &&
        !(this.bodyPrefix === '' && this.isHeadTensor(name)),
    );
    if (unused.length > 0) throw unusedTensors(unused);
  }

  /**
   * Fails when the checkpoint holds any tensor the graphs do not use, other than `ignored` ones (tied
   * copies, buffers): for architectures whose every tensor has a place (seq2seq), so a config that
   * does not match its weights is found whatever the tensor's name.
   */
  checkAllUsed(ignored: readonly RegExp[] = []): void {
    const unused = [...this.checkpoint.tensors.keys()].filter(
      (name) => !this.used.has(name) && ![...IGNORED, ...ignored].some((pattern) => pattern.test(name)),
    );
    if (unused.length > 0) throw unusedTensors(unused);
  }

  /** In a bare checkpoint, top-level names that belong to heads rather than to the body. */
  private isHeadTensor(name: string): boolean {
    return !/^(embeddings|encoder|transformer|pooler|embeddings_project)\./.test(name);
  }

  private stored(name: string): string | undefined {
    if (this.checkpoint.tensors.has(name)) return name;
    for (const [now, old] of RENAMES) {
      if (name.endsWith(now) && /LayerNorm|layer_norm|norm/i.test(name)) {
        const legacy = name.slice(0, -now.length) + old;
        if (this.checkpoint.tensors.has(legacy)) return legacy;
      }
    }
    return undefined;
  }
}
