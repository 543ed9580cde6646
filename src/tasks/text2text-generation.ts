// text2text-generation: Generate text from text with an encoder-decoder model.
import { seq2seqTask } from './seq2seq.ts';

export default seq2seqTask({
  name: 'text2text-generation',
  key: 'generated_text',
  summary: 'Generate text from text with an encoder-decoder model.',
  example: 'The cat drinks water',
});
