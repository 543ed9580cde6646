// translation: Translate texts (the model decides the languages).
import { seq2seqTask } from './seq2seq.ts';

export default seq2seqTask({
  name: 'translation',
  key: 'translation_text',
  summary: 'Translate texts (the model decides the languages).',
  example: 'The cat drinks water',
});
