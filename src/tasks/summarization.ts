// summarization: Summarize texts.
import { seq2seqTask } from './seq2seq.ts';

export default seq2seqTask({
  name: 'summarization',
  key: 'summary_text',
  summary: 'Summarize texts.',
  example: 'Yesterday Alice Smith flew from London to Paris for a football match with her team.',
});
