// Every task, by name, and how a model's config.json tells which task it does.
import featureExtraction from './feature-extraction.ts';
import fillMask from './fill-mask.ts';
import questionAnswering from './question-answering.ts';
import sentenceSimilarity from './sentence-similarity.ts';
import summarization from './summarization.ts';
import text2textGeneration from './text2text-generation.ts';
import textClassification from './text-classification.ts';
import textGeneration from './text-generation.ts';
import textRanking from './text-ranking.ts';
import tokenClassification from './token-classification.ts';
import translation from './translation.ts';
import type { ModelClass, ModelConfig, TaskDefinition, TaskName } from './types.ts';
import zeroShotClassification from './zero-shot-classification.ts';

export {
  TASK_NAMES,
  type ModelConfig,
  type ModelContext,
  type TaskDefinition,
  type TaskName,
} from './types.ts';

export const TASKS: Record<TaskName, TaskDefinition> = {
  'text-classification': textClassification,
  'token-classification': tokenClassification,
  'question-answering': questionAnswering,
  'zero-shot-classification': zeroShotClassification,
  'fill-mask': fillMask,
  'feature-extraction': featureExtraction,
  'sentence-similarity': sentenceSimilarity,
  'text-ranking': textRanking,
  summarization,
  translation,
  'text2text-generation': text2textGeneration,
  'text-generation': textGeneration,
} as unknown as Record<TaskName, TaskDefinition>;

/** The task a model does, from its config.json (architectures first, then model_type). */
export function inferTask(config: ModelConfig): TaskName {
  const architecture = config.architectures?.[0] ?? '';
  const labels = Object.values(config.id2label ?? {}).map((l) => l.toLowerCase());
  if (/ForSequenceClassification$/.test(architecture)) {
    return labels.some((l) => l.startsWith('entail')) ? 'zero-shot-classification' : 'text-classification';
  }
  if (/ForTokenClassification$/.test(architecture)) return 'token-classification';
  if (/ForQuestionAnswering$/.test(architecture)) return 'question-answering';
  if (/ForMaskedLM$/.test(architecture)) return 'fill-mask';
  if (config.is_encoder_decoder || /ForConditionalGeneration$/.test(architecture))
    return 'text2text-generation';
  if (/(ForCausalLM|LMHeadModel)$/.test(architecture)) return 'text-generation';
  return 'feature-extraction';
}

/**
 * Tasks a model served for `task` also answers, because they need the same model class: an NLI
 * model classifies pairs and reranks, an embedding model compares sentences, a seq2seq model does
 * all three text2text tasks.
 */
export function compatibleTasks(task: TaskName): TaskDefinition[] {
  const modelClass: ModelClass = TASKS[task].modelClass;
  const others = Object.values(TASKS).filter((t) => t.modelClass === modelClass && t.name !== task);
  return [TASKS[task], ...others];
}
