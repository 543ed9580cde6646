// One try-it panel per task: its fields, the request it makes (the Hugging Face Inference API's
// shapes) and how its answer is drawn. A panel may run itself (streaming, several requests).
import { infer, inferStream } from './api.js';
import { formatMs, formatScore, h, replace } from './dom.js';

const lines = (text) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

const optional = (parameters) =>
  Object.fromEntries(
    Object.entries(parameters).filter(([, v]) => v !== undefined && v !== '' && v !== false),
  );

/** `{inputs, parameters}` without an empty parameters object. */
function body(inputs, parameters = {}) {
  const p = optional(parameters);
  return Object.keys(p).length ? { inputs, parameters: p } : { inputs };
}

/** Score bars: the number is always written next to its bar. */
function bars(items, caption) {
  const max = Math.max(...items.map((i) => i.score), 0);
  return h(
    'ol',
    { class: 'bars', 'aria-label': caption },
    items.map(({ label, score, detail }) =>
      h(
        'li',
        { dataset: { label, score: String(score) } },
        h('span', { class: 'bar-label' }, label, detail && h('span', { class: 'bar-detail' }, detail)),
        h(
          'span',
          { class: 'bar-track', 'aria-hidden': 'true' },
          h('span', {
            class: `bar-fill${score === max ? ' best' : ''}`,
            style: { '--value': String(Math.max(0, Math.min(1, score))) },
          }),
        ),
        h('span', { class: 'bar-value' }, formatScore(score)),
      ),
    ),
  );
}

/** Entity types share a color whatever their B-/I- prefix; the label is always written too. */
const KNOWN_TYPES = ['PER', 'LOC', 'ORG', 'MISC', 'DATE'];
function entityClass(label) {
  const type = label.replace(/^[BIES]-/, '').toUpperCase();
  const known = KNOWN_TYPES.indexOf(type);
  if (known >= 0) return `entity t${known}`;
  let hash = 0;
  for (const c of type) hash = (hash * 31 + c.charCodeAt(0)) % 997;
  return `entity t${5 + (hash % 3)}`;
}

/** The text with spans marked; overlapping spans after the first are left out of the marking. */
function highlighted(text, spans, mark) {
  const nodes = [];
  let at = 0;
  for (const span of [...spans].sort((a, b) => a.start - b.start)) {
    if (span.start < at || span.end <= span.start || span.end > text.length) continue;
    if (span.start > at) nodes.push(text.slice(at, span.start));
    nodes.push(mark(span, text.slice(span.start, span.end)));
    at = span.end;
  }
  if (at < text.length) nodes.push(text.slice(at));
  return nodes;
}

function cosine(a, b) {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na && nb ? dot / Math.sqrt(na * nb) : 0;
}

/** A similarity table: every cell has its number; the color only repeats it. */
function matrix(texts, values, caption) {
  const short = (t) => (t.length > 28 ? `${t.slice(0, 27)}…` : t);
  return h(
    'div',
    { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': caption },
    h(
      'table',
      { class: 'similarity' },
      h('caption', {}, caption),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('td', {}),
          texts.map((t, i) => h('th', { scope: 'col', title: t }, h('span', { class: 'idx' }, `${i + 1}`))),
        ),
      ),
      h(
        'tbody',
        {},
        texts.map((t, i) =>
          h(
            'tr',
            {},
            h('th', { scope: 'row', title: t }, h('span', { class: 'idx' }, `${i + 1}`), ' ', short(t)),
            values[i].map((v) => {
              const level = Math.max(0, Math.min(1, v));
              return h(
                'td',
                {
                  dataset: { value: String(v) },
                  class: level > 0.55 ? 'strong' : undefined,
                  style: { '--level': level.toFixed(3) },
                },
                v.toFixed(2),
              );
            }),
          ),
        ),
      ),
    ),
  );
}

const textField = (value, extra = {}) => ({ name: 'text', label: 'Text', type: 'text', value, ...extra });
const maxNewTokens = (value) => ({
  name: 'max_new_tokens',
  label: 'Max new tokens',
  type: 'number',
  value,
  min: 1,
  max: 4096,
});

/** The parameter a summarization / translation / text2text answer carries its text in. */
const SEQ2SEQ_KEY = {
  summarization: 'summary_text',
  translation: 'translation_text',
  'text2text-generation': 'generated_text',
};

const seq2seq = (task, title, value) => ({
  title,
  fields: [textField(value), maxNewTokens('')],
  request: (v) => body(v.text, { max_new_tokens: v.max_new_tokens }),
  render: (answer) => {
    const text = (Array.isArray(answer) ? answer[0] : answer)?.[SEQ2SEQ_KEY[task]] ?? '';
    return h('div', { class: 'generated' }, h('p', { class: 'gen-output', id: 'gen-output' }, text));
  },
});

export const PANELS = {
  'text-classification': {
    title: 'Text classification',
    fields: [
      textField('I love this wonderful film'),
      {
        name: 'text_pair',
        label: 'Second text',
        type: 'line',
        value: '',
        hint: 'Optional: classify the pair (for NLI and cross-encoder models).',
      },
      { name: 'top_k', label: 'Top k', type: 'number', value: '', min: 1, hint: 'Optional.' },
    ],
    request: (v) => body(v.text_pair ? { text: v.text, text_pair: v.text_pair } : v.text, { top_k: v.top_k }),
    render: (answer) => bars(answer[0] ?? [], 'Labels and scores'),
  },
  'zero-shot-classification': {
    title: 'Zero-shot classification',
    fields: [
      textField('The team won the football match yesterday'),
      {
        name: 'candidate_labels',
        label: 'Candidate labels',
        type: 'line',
        value: 'sports, politics, food',
        hint: 'Comma-separated.',
      },
      { name: 'multi_label', label: 'Several labels may be true', type: 'checkbox', value: false },
    ],
    request: (v) =>
      body(v.text, {
        candidate_labels: v.candidate_labels
          .split(',')
          .map((l) => l.trim())
          .filter(Boolean),
        multi_label: v.multi_label,
      }),
    render: (answer) => {
      const result = Array.isArray(answer) ? answer[0] : answer;
      return bars(
        result.labels.map((label, i) => ({ label, score: result.scores[i] })),
        'Candidate labels and scores',
      );
    },
  },
  'text-ranking': {
    title: 'Text ranking',
    fields: [
      { name: 'query', label: 'Query', type: 'line', value: 'football' },
      {
        name: 'texts',
        label: 'Texts to rank',
        type: 'lines',
        value: 'The team won the match\nStocks fell sharply\nThe striker scored twice',
        hint: 'One per line.',
      },
    ],
    request: (v) => body({ query: v.query, texts: lines(v.texts) }, { return_text: true }),
    render: (answer, v) => {
      const texts = lines(v.texts);
      return bars(
        answer.map((r, rank) => ({
          label: `${rank + 1}. ${r.text ?? texts[r.index] ?? `#${r.index}`}`,
          score: r.score,
        })),
        'Texts by relevance',
      );
    },
  },
  'token-classification': {
    title: 'Named entities',
    fields: [
      textField('Yesterday Alice Smith moved to Paris to work for Google.'),
      {
        name: 'aggregation_strategy',
        label: 'Aggregation',
        type: 'select',
        value: 'simple',
        options: ['simple', 'first', 'average', 'max', 'none'],
        hint: 'How sub-word tokens become entities.',
      },
    ],
    request: (v) =>
      body(v.text, {
        aggregation_strategy: v.aggregation_strategy === 'simple' ? undefined : v.aggregation_strategy,
      }),
    render: (answer, v) => {
      const entities = (Array.isArray(answer[0]) ? answer[0] : answer).map((e) => ({
        ...e,
        label: e.entity_group ?? e.entity,
      }));
      const text = h(
        'p',
        { class: 'entities-text' },
        highlighted(v.text, entities, (e, slice) =>
          h(
            'mark',
            {
              class: entityClass(e.label),
              dataset: { label: e.label, start: String(e.start), end: String(e.end) },
            },
            slice,
            h('span', { class: 'entity-label' }, ` ${e.label}`),
          ),
        ),
      );
      const table = entities.length
        ? h(
            'table',
            { class: 'plain' },
            h('caption', { class: 'visually-hidden' }, 'Entities'),
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                ['Entity', 'Label', 'Score', 'Offsets'].map((c) => h('th', { scope: 'col' }, c)),
              ),
            ),
            h(
              'tbody',
              {},
              entities.map((e) =>
                h(
                  'tr',
                  {},
                  h('td', {}, e.word),
                  h('td', {}, h('span', { class: entityClass(e.label) }, e.label)),
                  h('td', { class: 'num' }, formatScore(e.score)),
                  h('td', { class: 'num' }, `${e.start}–${e.end}`),
                ),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'No entities found.');
      return h('div', {}, text, table);
    },
  },
  'question-answering': {
    title: 'Question answering',
    fields: [
      { name: 'question', label: 'Question', type: 'line', value: 'Where does Alice live?' },
      {
        name: 'context',
        label: 'Context',
        type: 'lines',
        value: 'Alice lives in Paris since 2020. She works for Google.',
      },
    ],
    request: (v) => body({ question: v.question, context: v.context }),
    render: (answer, v) => {
      const best = Array.isArray(answer) ? answer[0] : answer;
      if (!best || !best.answer) return h('p', { class: 'muted' }, 'No answer in the context.');
      return h(
        'div',
        {},
        h(
          'p',
          { class: 'qa-answer' },
          'Answer: ',
          h('strong', {}, best.answer),
          h('span', { class: 'muted' }, ` (score ${formatScore(best.score)})`),
        ),
        h(
          'p',
          { class: 'qa-context' },
          highlighted(v.context, [best], (a, slice) =>
            h('mark', { class: 'answer', dataset: { start: String(a.start), end: String(a.end) } }, slice),
          ),
        ),
      );
    },
  },
  'fill-mask': {
    title: 'Fill the mask',
    fields: [
      textField('I drink [MASK] every morning.', {
        hint: "Write the model's mask token ([MASK] or <mask>) where a word is missing.",
      }),
      { name: 'top_k', label: 'Top k', type: 'number', value: '', min: 1, max: 100, hint: 'Default 5.' },
    ],
    request: (v) => body(v.text, { top_k: v.top_k }),
    render: (answer) =>
      bars(
        (Array.isArray(answer[0]) ? answer[0] : answer).map((f) => ({
          label: f.token_str,
          score: f.score,
          detail: f.sequence,
        })),
        'Candidates and scores',
      ),
  },
  'feature-extraction': {
    title: 'Embeddings',
    fields: [
      {
        name: 'texts',
        label: 'Sentences',
        type: 'lines',
        value:
          'A cat sits on the mat\nMy kitten sleeps on the sofa\nStocks fell sharply today\nThe market dropped',
        hint: 'One per line; the table shows the cosine similarity of their vectors.',
      },
    ],
    request: (v) => body(lines(v.texts)),
    render: (answer, v) => {
      const texts = lines(v.texts);
      const dims = Array.isArray(answer[0]) ? answer[0].length : 0;
      const values = answer.map((a) => answer.map((b) => cosine(a, b)));
      return h(
        'div',
        {},
        matrix(texts, values, 'Cosine similarity of the embeddings'),
        h('p', { class: 'muted' }, `${answer.length} vectors of ${dims} dimensions.`),
      );
    },
  },
  'sentence-similarity': {
    title: 'Sentence similarity',
    fields: [
      {
        name: 'texts',
        label: 'Sentences',
        type: 'lines',
        value:
          'A cat sits on the mat\nMy kitten sleeps on the sofa\nStocks fell sharply today\nThe market dropped',
        hint: 'One per line, at most 12; each row is one request with that sentence as the source.',
      },
    ],
    request: (v) => {
      const texts = lines(v.texts);
      return body({ source_sentence: texts[0] ?? '', sentences: texts });
    },
    /** One request per row: the row's sentence against all of them. */
    async run({ model, values, signal }) {
      const texts = lines(values.texts).slice(0, 12);
      const started = performance.now();
      const rows = await Promise.all(
        texts.map((source) =>
          infer(model.name, body({ source_sentence: source, sentences: texts }), { signal }),
        ),
      );
      return {
        node: matrix(
          texts,
          rows.map((r) => r.answer),
          'Sentence similarity',
        ),
        ms: performance.now() - started,
        note: `${rows.length} requests in parallel`,
      };
    },
  },
  'text-generation': {
    title: 'Text generation',
    stream: (v) => v.stream,
    fields: [
      { name: 'text', label: 'Prompt', type: 'text', value: 'Once upon a' },
      maxNewTokens(20),
      {
        name: 'temperature',
        label: 'Temperature',
        type: 'number',
        value: '',
        min: 0.01,
        max: 100,
        step: 0.01,
        hint: 'Empty: greedy.',
      },
      { name: 'seed', label: 'Seed', type: 'number', value: '', min: 0, hint: 'Optional.' },
      { name: 'stream', label: 'Stream tokens as they are generated', type: 'checkbox', value: true },
    ],
    request: (v) =>
      body(v.text, { max_new_tokens: v.max_new_tokens, temperature: v.temperature, seed: v.seed }),
    async run({ model, values, request, signal, output }) {
      const out = h('span', { class: 'gen-output', id: 'gen-output' });
      const cursor = h('span', { class: 'cursor', 'aria-hidden': 'true' });
      const prompt = h('span', { class: 'prompt' }, values.text);
      const stats = h('p', { class: 'muted gen-stats' });
      replace(
        output,
        h('div', { class: 'generated' }, h('p', { class: 'gen-text' }, prompt, out, cursor), stats),
      );
      if (!values.stream) {
        const { answer, ms, timing } = await infer(model.name, request, { signal });
        const first = Array.isArray(answer[0]) ? answer[0][0] : answer[0];
        out.textContent = first?.generated_text ?? '';
        cursor.remove();
        return { ms, timing };
      }
      let tokens = 0;
      const { last, firstMs, ms } = await inferStream(model.name, request, {
        signal,
        onToken: (event) => {
          tokens++;
          if (!event.token.special && event.token.text) {
            out.append(
              h('span', { class: 'token', dataset: { id: String(event.token.id) } }, event.token.text),
            );
          }
          stats.textContent = `${tokens} tokens…`;
        },
      });
      cursor.remove();
      // The last event carries the whole text (after stop sequences): it has the final word.
      if (typeof last.generated_text === 'string' && out.textContent !== last.generated_text) {
        replace(out, last.generated_text);
      }
      const rate = ms > 0 ? tokens / (ms / 1000) : 0;
      const reason = last.details?.finish_reason;
      stats.textContent = `${tokens} tokens · first token after ${formatMs(firstMs)} · ${rate.toFixed(1)} tokens/s${
        reason ? ` · finished: ${reason}` : ''
      }`;
      return { ms };
    },
  },
  summarization: seq2seq(
    'summarization',
    'Summarization',
    'Alice Smith moved to Paris in 2020 to work for Google. She likes the city, its food and its parks, and she plays football with friends on weekends.',
  ),
  translation: seq2seq('translation', 'Translation', 'The cat drinks water'),
  'text2text-generation': seq2seq('text2text-generation', 'Text to text', 'The cat drinks water'),
};

/** The tasks of a model that get a panel; seq2seq models answer in their own task whatever is asked. */
export function panelTasks(model) {
  const tasks = model.tasks?.length ? model.tasks : model.task ? [model.task] : [];
  const seq = Object.keys(SEQ2SEQ_KEY);
  return tasks.filter(
    (t, i) => PANELS[t] && !(seq.includes(t) && tasks.some((o, j) => j < i && seq.includes(o))),
  );
}
