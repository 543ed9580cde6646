// What a custom handler module imports: the handler contract and the helpers built-in tasks use.
export { defineHandler, type Handler } from './tasks/custom.ts';
export type { ModelContext } from './tasks/types.ts';
export { splitSentences, softmax, Text, Texts, type Sentence } from './tasks/common.ts';
export { classifyLogits } from './tasks/text-classification.ts';
export { ServeError } from './errors.ts';
