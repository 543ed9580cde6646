// question-answering: the best span of the context, with character offsets. A context longer than the
// model takes is read in overlapping windows, never silently cut.
import type { Tensor } from '@huggingface/transformers';
import Type from 'typebox';
import { ServeError } from '../errors.ts';
import { round, softmax, Text, topK } from './common.ts';
import { tokenSpans, type TokenSpan } from './offsets.ts';
import { defineTask, type ModelContext } from './types.ts';

const Answer = Type.Object({
  answer: Type.String(),
  score: Type.Number(),
  start: Type.Integer(),
  end: Type.Integer(),
});

/** Start and end positions considered per window. */
const N_BEST = 20;

interface Candidate {
  score: number;
  start: number;
  end: number;
}

/** The special-token frame of a question/context pair: BERT's [CLS] q [SEP] c [SEP] or RoBERTa's <s> q </s></s> c </s>. */
function frame(model: ModelContext): { open: number[]; middle: number[]; close: number[] } {
  const t = model.tokenizer;
  // The tokenizer's own frame of a single text tells which opening token it uses.
  const [first] = t.encode('x');
  const opening = first !== undefined && t.all_special_ids.includes(first) ? first : undefined;
  if (opening !== undefined && opening !== t.bos_token_id && t.sep_token_id !== undefined) {
    return { open: [opening], middle: [t.sep_token_id], close: [t.sep_token_id] };
  }
  if (opening !== undefined && t.eos_token_id !== undefined) {
    return { open: [opening], middle: [t.eos_token_id, t.eos_token_id], close: [t.eos_token_id] };
  }
  throw new ServeError(
    'task_not_supported',
    'this tokenizer has no special tokens to frame a question and a context',
  );
}

export default defineTask({
  name: 'question-answering',
  summary: 'Extract the answer to a question from a context, with its character offsets.',
  modelClass: 'question-answering',
  inputs: Type.Object({ question: Text, context: Text }, { additionalProperties: false }),
  parameters: Type.Object(
    {
      top_k: Type.Optional(
        Type.Integer({ minimum: 1, maximum: 20, description: 'Answers to return (default 1).' }),
      ),
      max_answer_len: Type.Optional(
        Type.Integer({ minimum: 1, maximum: 128, description: 'In tokens (default 15).' }),
      ),
      doc_stride: Type.Optional(
        Type.Integer({
          minimum: 1,
          description: 'Overlap of consecutive context windows, in tokens (default 128).',
        }),
      ),
      handle_impossible_answer: Type.Optional(Type.Boolean({ description: 'Allow an empty answer.' })),
    },
    { additionalProperties: false },
  ),
  output: Type.Union([Answer, Type.Array(Answer)]),
  example: {
    inputs: { question: 'Where does Alice live?', context: 'Alice Smith lives in Paris since 2020.' },
  },
  splittable: false,
  async run(model, { question, context }, parameters) {
    const started = performance.now();
    const t = model.tokenizer;
    const encode = (text: string): number[] => t.encode(text, { add_special_tokens: false });
    const q = encode(question);
    const c = encode(context);
    model.meter.input.push(q.length + c.length);
    model.meter.tokenizeMs += performance.now() - started;
    const spans = new Map<number, TokenSpan>(tokenSpans(t, context, c).map((s) => [s.index, s]));
    const { open, middle, close } = frame(model);
    const room = model.maxTokens - q.length - open.length - middle.length - close.length;
    if (room < 8) {
      throw new ServeError(
        'input_too_long',
        `the question leaves no room for the context (${q.length} tokens)`,
        {
          tokens: q.length,
          max_tokens: model.maxTokens,
        },
      );
    }
    const stride = Math.min(parameters.doc_stride ?? 128, Math.floor(room / 2));
    const starts: number[] = [];
    for (let s = 0; ; s += room - stride) {
      starts.push(s);
      if (s + room >= c.length) break;
    }
    const maxLen = parameters.max_answer_len ?? 15;
    const candidates: Candidate[] = [];
    let nullScore = 0;
    for (const s of starts) {
      const window = c.slice(s, s + room);
      const ids = [...open, ...q, ...middle, ...window, ...close];
      const first = open.length + q.length + middle.length; // index of the window's first token
      const tensor = (values: number[]): Tensor =>
        new model.runtime.Tensor('int64', BigInt64Array.from(values.map(BigInt)), [1, values.length]);
      const inputs: Record<string, Tensor> = {
        input_ids: tensor(ids),
        attention_mask: tensor(ids.map(() => 1)),
        token_type_ids: tensor(ids.map((_, i) => (i >= first ? 1 : 0))),
      };
      const out = (await model.model(inputs)) as { start_logits: Tensor; end_logits: Tensor };
      const startP = softmax([...(out.start_logits.data as Float32Array)]);
      const endP = softmax([...(out.end_logits.data as Float32Array)]);
      nullScore = Math.max(nullScore, (startP[0] ?? 0) * (endP[0] ?? 0));
      // The best starts and ends of the window (HF's n-best), not every pair of positions.
      const inWindow = (p: number[]): number[] => p.slice(first, first + window.length);
      const starts = topK(inWindow(startP), N_BEST);
      const ends = topK(inWindow(endP), N_BEST);
      for (const i of starts) {
        for (const j of ends) {
          if (j < i || j >= i + maxLen) continue;
          const startSpan = spans.get(s + i);
          const endSpan = spans.get(s + j);
          if (!startSpan || !endSpan || endSpan.end <= startSpan.start) continue;
          const p = (startP[first + i] ?? 0) * (endP[first + j] ?? 0);
          candidates.push({ score: p, start: startSpan.start, end: endSpan.end });
        }
      }
    }
    const seen = new Set<string>();
    const best = candidates
      .sort((a, b) => b.score - a.score)
      .filter((a) => !seen.has(`${a.start}:${a.end}`) && seen.add(`${a.start}:${a.end}`))
      .slice(0, parameters.top_k ?? 1)
      .map((a) => ({
        answer: context.slice(a.start, a.end),
        score: round(a.score),
        start: a.start,
        end: a.end,
      }));
    if (parameters.handle_impossible_answer && (best.length === 0 || nullScore > (best[0]?.score ?? 0))) {
      best.unshift({ answer: '', score: round(nullScore), start: 0, end: 0 });
    }
    const answers = best.slice(0, parameters.top_k ?? 1);
    return parameters.top_k === undefined
      ? (answers[0] ?? { answer: '', score: 0, start: 0, end: 0 })
      : answers;
  },
});
