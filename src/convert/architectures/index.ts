// The encoder architectures the converter builds, by config.json `model_type`, and the head a
// checkpoint's `architectures` entry names.
import { ServeError } from '../../errors.ts';
import type { Architecture, Config, Head } from './architecture.ts';
import { DECODER_MODEL_TYPES } from '../decoders/decoder.ts';
import { SEQ2SEQ_MODEL_TYPES } from '../seq2seq/seq2seq.ts';
import { bert } from './bert.ts';
import { distilbert } from './distilbert.ts';
import { electra } from './electra.ts';
import { mpnet } from './mpnet.ts';
import { roberta } from './roberta.ts';

export { HEADS, type Architecture, type Config, type Head } from './architecture.ts';

const ARCHITECTURES: readonly Architecture[] = [bert, distilbert, electra, mpnet, roberta];

/** Every model_type the converter builds: encoders, decoders (../decoders) and seq2seq (../seq2seq). */
export const SUPPORTED_MODEL_TYPES: readonly string[] = [
  ...ARCHITECTURES.flatMap((a) => a.modelTypes),
  ...DECODER_MODEL_TYPES,
  ...SEQ2SEQ_MODEL_TYPES,
].sort();

export function architectureFor(config: Config): Architecture {
  const modelType = config['model_type'];
  const found = ARCHITECTURES.find((a) => typeof modelType === 'string' && a.modelTypes.includes(modelType));
  if (!found) {
    throw new ServeError(
      'unsupported_architecture',
      `model_type "${String(modelType)}" cannot be converted from its checkpoint (supported: ` +
        `${SUPPORTED_MODEL_TYPES.join(', ')}); use a repo with ONNX weights instead`,
      { model_type: modelType, supported: SUPPORTED_MODEL_TYPES },
    );
  }
  return found;
}

// transformers' class name suffixes, as src/tasks infers the task from the same entry.
const HEAD_SUFFIXES: readonly [RegExp, Head][] = [
  [/ForSequenceClassification$/, 'sequence-classification'],
  [/ForTokenClassification$/, 'token-classification'],
  [/ForQuestionAnswering$/, 'question-answering'],
  [/For(MaskedLM|PreTraining)$/, 'masked-lm'],
  [/Model$/, 'feature-extraction'],
];

/** The head config.json's first `architectures` entry names; a bare model (or none named): features. */
export function headFor(config: Config): Head {
  const named = Array.isArray(config['architectures']) ? config['architectures'][0] : undefined;
  if (named === undefined) return 'feature-extraction';
  const head = HEAD_SUFFIXES.find(([suffix]) => suffix.test(String(named)))?.[1];
  if (!head) {
    throw new ServeError(
      'unsupported_architecture',
      `architecture "${String(named)}" has a head hubserve cannot convert (supported: *Model, ` +
        '*ForSequenceClassification, *ForTokenClassification, *ForQuestionAnswering, *ForMaskedLM)',
      { architecture: named },
    );
  }
  return head;
}
