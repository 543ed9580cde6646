// Bad input of every kind, through a real server on loopback: malformed and hostile bodies, wrong
// types, limits, odd Unicode, wrong routes and content types, and a seeded fuzz loop. Every failure
// must be the JSON error contract ({"error": {"code", "message", ...details}} with the status of
// src/http/errors.ts), never a 5xx, and the server must keep answering valid requests throughout.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { ERROR_CODES, type ErrorCode } from '../../src/errors.ts';
import { STATUS } from '../../src/http/errors.ts';
import { rng } from '../../tools/testmodels/random.ts';
import { pool } from '../support/pool.ts';
import { serve, type TestServer, tiny } from '../support/server.ts';

const MAX_BODY_BYTES = 64 * 1024;
const MODELS = ['sentiment', 'ner', 'qa', 'fill-mask', 'gpt2', 'nli'] as const;
/** A valid deployment name (the config schema allows 200 characters) longer than Fastify's default 100. */
const LONG_NAME = `long-${'n'.repeat(145)}`;
type ModelName = (typeof MODELS)[number];

let server: TestServer;

before(async () => {
  server = await serve(
    [
      tiny('sentiment', 'hubserve-test/tiny-sentiment'),
      tiny('ner', 'hubserve-test/tiny-ner'),
      tiny('qa', 'hubserve-test/tiny-qa'),
      tiny('fill-mask', 'hubserve-test/tiny-fill-mask'),
      tiny('gpt2', 'hubserve-test/tiny-gpt2'),
      tiny('nli', 'hubserve-test/tiny-nli'),
      tiny(LONG_NAME, 'hubserve-test/tiny-sentiment'),
    ],
    { config: { max_body_bytes: MAX_BODY_BYTES } },
  );
});
after(() => server.close());

// ---------------------------------------------------------------------------------------------------
// Sending requests with full control of the bytes and headers (fetch adds a content type of its own).

interface Answer {
  status: number;
  contentType: string;
  text: string;
  json: unknown;
}

interface SendOptions {
  method?: string;
  /** A string is sent as its UTF-8 bytes. */
  body?: string | Uint8Array;
  /** null: no Content-Type header at all. */
  contentType?: string | null;
  /** Send the body with Transfer-Encoding: chunked (no Content-Length). */
  chunked?: boolean;
  timeoutMs?: number;
}

function send(path: string, options: SendOptions = {}): Promise<Answer> {
  const { method = 'POST', body, contentType = 'application/json', chunked = false } = options;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const url = new URL(server.url);
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const headers: Record<string, string> = {};
  if (contentType !== null) headers['content-type'] = contentType;
  if (chunked) headers['transfer-encoding'] = 'chunked';
  else if (bytes) headers['content-length'] = String(bytes.byteLength);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, path, method, headers, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown = undefined;
          try {
            json = JSON.parse(text);
          } catch {
            // not JSON: the assertions say so
          }
          resolve({
            status: res.statusCode ?? 0,
            contentType: res.headers['content-type'] ?? '',
            text,
            json,
          });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    if (bytes && chunked) {
      for (let at = 0; at < bytes.byteLength; at += 16 * 1024) req.write(bytes.subarray(at, at + 16 * 1024));
    } else if (bytes) req.write(bytes);
    req.end();
  });
}

const post = (model: string, body: unknown): Promise<Answer> =>
  send(`/models/${model}`, { body: typeof body === 'string' ? body : JSON.stringify(body) });

const preview = (text: string, n = 300): string => (text.length > n ? `${text.slice(0, n)}…` : text);

// ---------------------------------------------------------------------------------------------------
// The error contract.

interface ErrorDetails {
  code: string;
  message: string;
  [detail: string]: unknown;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isErrorBody = (value: unknown): value is { error: ErrorDetails } =>
  isRecord(value) &&
  isRecord(value.error) &&
  typeof value.error.code === 'string' &&
  typeof value.error.message === 'string';

const isErrorCode = (code: string): code is ErrorCode => (ERROR_CODES as readonly string[]).includes(code);

/** Whatever went wrong, the answer is a documented JSON error: returns its `error` object. */
function documentedError(answer: Answer, what: string): ErrorDetails {
  const seen = `${what}: got ${answer.status} ${answer.contentType} ${preview(answer.text)}`;
  assert.match(answer.contentType, /^application\/json\b/, `${seen}: not JSON`);
  assert.ok(isErrorBody(answer.json), `${seen}: not {"error": {"code", "message"}}`);
  const { error } = answer.json;
  assert.ok(isErrorCode(error.code), `${seen}: ${error.code} is not in ERROR_CODES`);
  assert.equal(answer.status, STATUS[error.code], `${seen}: the status is not STATUS[${error.code}]`);
  assert.ok(/\p{L}{2}/u.test(error.message), `${seen}: the message is not a human sentence`);
  return error;
}

/** The answer is exactly this documented error. */
function expectError(answer: Answer, status: number, code: ErrorCode, what: string): ErrorDetails {
  const seen = `${what}: got ${answer.status} ${preview(answer.text)}`;
  assert.equal(answer.status, status, `${seen}: expected ${status} ${code}`);
  const error = documentedError(answer, what);
  assert.equal(error.code, code, `${seen}: expected code ${code}`);
  return error;
}

/** The answer is one of these documented errors (where the contract allows either). */
function expectOneOf(answer: Answer, allowed: [number, ErrorCode][], what: string): ErrorDetails {
  const error = documentedError(answer, what);
  assert.ok(
    allowed.some(([status, code]) => status === answer.status && code === error.code),
    `${what}: got ${answer.status} ${error.code} (${error.message}), expected one of ${JSON.stringify(allowed)}`,
  );
  return error;
}

function expectOk(answer: Answer, what: string): unknown {
  assert.equal(answer.status, 200, `${what}: got ${answer.status} ${preview(answer.text)}`);
  assert.match(answer.contentType, /^application\/json\b/, `${what}: not JSON: ${answer.contentType}`);
  assert.notEqual(answer.json, undefined, `${what}: the body does not parse: ${preview(answer.text)}`);
  return answer.json;
}

// ---------------------------------------------------------------------------------------------------
// The documented answer shapes, for the requests that may succeed.

const isLabelScores = (v: unknown): boolean =>
  Array.isArray(v) &&
  v.every(
    (row) =>
      Array.isArray(row) &&
      row.every((x) => isRecord(x) && typeof x.label === 'string' && typeof x.score === 'number'),
  );

/** Character offsets that are integers inside the text. */
const validSpan = (text: string, start: unknown, end: unknown): boolean =>
  Number.isInteger(start) &&
  Number.isInteger(end) &&
  (start as number) >= 0 &&
  (start as number) <= (end as number) &&
  (end as number) <= text.length;

const isEntities = (text: string, v: unknown): boolean =>
  Array.isArray(v) &&
  v.every(
    (e) =>
      isRecord(e) &&
      typeof e.entity_group === 'string' &&
      typeof e.score === 'number' &&
      typeof e.word === 'string' &&
      validSpan(text, e.start, e.end) &&
      text.slice(e.start as number, e.end as number) === e.word,
  );

const isAnswer = (context: string, v: unknown): boolean =>
  isRecord(v) &&
  typeof v.answer === 'string' &&
  typeof v.score === 'number' &&
  v.score >= 0 &&
  v.score <= 1 &&
  validSpan(context, v.start, v.end) &&
  context.slice(v.start as number, v.end as number) === v.answer;

const isGenerated = (v: unknown): boolean =>
  Array.isArray(v) && v.every((g) => isRecord(g) && typeof g.generated_text === 'string');

const isZeroShot = (v: unknown): boolean =>
  isRecord(v) &&
  typeof v.sequence === 'string' &&
  Array.isArray(v.labels) &&
  Array.isArray(v.scores) &&
  v.labels.length === v.scores.length;

const entityPairs = (text: string, v: unknown): [string, string][] =>
  (Array.isArray(v) ? v : []).map((e: unknown) =>
    isRecord(e) && typeof e.start === 'number' && typeof e.end === 'number'
      ? [String(e.entity_group), text.slice(e.start, e.end)]
      : ['?', '?'],
  );

async function maxInputTokens(model: ModelName): Promise<number> {
  const info = await send(`/models/${model}`, { method: 'GET', contentType: null });
  const body = expectOk(info, `GET /models/${model}`);
  assert.ok(isRecord(body) && typeof body.max_input_tokens === 'number', `${model}: no max_input_tokens`);
  return body.max_input_tokens;
}

// ---------------------------------------------------------------------------------------------------

describe('malformed bodies: 400 invalid_request', () => {
  const bodies: [string, string][] = [
    ['truncated JSON', '{"inputs": "I love this'],
    ['truncated after a key', '{"inputs":'],
    ['trailing garbage', '{"inputs": "I love this wonderful film"} xyz'],
    ['two objects', '{"inputs": "a"}{"inputs": "b"}'],
    ['single quotes', "{'inputs': 'I love this wonderful film'}"],
    ['unquoted key', '{inputs: "hi"}'],
    ['NaN', '{"inputs": NaN}'],
    ['Infinity', '{"inputs": "hi", "parameters": {"top_k": Infinity}}'],
    ['a trailing comma', '{"inputs": "hi",}'],
    ['a comment', '{"inputs": "hi" /* no */}'],
    ['a raw newline in a string', '{"inputs": "line\nbreak"}'],
    ['an invalid escape', '{"inputs": "\\x41"}'],
    ['a short \\u escape', '{"inputs": "\\u12"}'],
    ['an empty body', ''],
    ['a whitespace-only body', ' \n\t '],
    ['a JSON array', '[{"inputs": "hi"}]'],
    ['a JSON string', '"I love this wonderful film"'],
    ['a JSON number', '42'],
    ['JSON true', 'true'],
    ['JSON null', 'null'],
    ['an empty object', '{}'],
    ['an object without inputs', '{"parameters": {"top_k": 1}}'],
    ['a misspelt inputs key', '{"input": "I love this wonderful film"}'],
  ];
  for (const model of ['sentiment', 'qa'] as const) {
    for (const [label, body] of bodies) {
      it(`${model}: ${label}`, async () => {
        expectError(await post(model, body), 400, 'invalid_request', `${model}, ${label}`);
      });
    }
  }
});

describe('wrong types: 400 invalid_request', () => {
  const badInputs: [string, unknown][] = [
    ['a number', 42],
    ['a boolean', true],
    ['null', null],
    ['a nested object', { nested: { deeper: [1, { x: 'y' }] } }],
    ['nested arrays', [[['I love it']]]],
    ['an empty array', []],
    ['an array of numbers', [1, 2, 3]],
  ];
  for (const model of MODELS) {
    for (const [label, inputs] of badInputs) {
      it(`${model}: inputs as ${label}`, async () => {
        const parameters = model === 'nli' ? { candidate_labels: ['sports', 'food'] } : undefined;
        const error = expectError(
          await post(model, { inputs, parameters }),
          400,
          'invalid_request',
          `${model}, inputs ${label}`,
        );
        assert.match(error.message, /inputs/, `${model}: the message should name inputs: ${error.message}`);
      });
    }
  }

  it('says once, in words, what inputs a task takes', async () => {
    const classify = expectError(await post('sentiment', { inputs: 42 }), 400, 'invalid_request', '42');
    assert.equal(
      classify.message,
      'invalid text-classification request: inputs must be a text, an object with "text" and "text_pair", ' +
        'or a list of 1 to 256 texts or objects with "text" and "text_pair"; got a number',
    );
    const answer = expectError(
      await post('qa', { inputs: { question: 'Who?' } }),
      400,
      'invalid_request',
      'qa',
    );
    assert.match(
      answer.message,
      /^invalid question-answering request: inputs must be an object with "question" and "context"/,
    );
    assert.match(answer.message, /got an object/);
  });

  const badParameters: [ModelName, unknown, Record<string, unknown>, string][] = [
    ['sentiment', 'I love it', { top_k: '3' }, 'top_k'],
    ['sentiment', 'I love it', { top_k: 0 }, 'top_k'],
    ['sentiment', 'I love it', { top_k: 1.5 }, 'top_k'],
    ['sentiment', 'I love it', { top_k: -2 }, 'top_k'],
    ['sentiment', 'I love it', { function_to_apply: 'relu' }, 'function_to_apply'],
    ['sentiment', 'I love it', { truncate: 'yes' }, 'truncate'],
    ['sentiment', 'I love it', { split: 'paragraph' }, 'split'],
    ['sentiment', 'I love it. Really.', { split: 'sentence', language: 'not a locale!' }, 'language'],
    ['ner', 'Alice Smith', { aggregation_strategy: 'bogus' }, 'aggregation_strategy'],
    ['ner', 'Alice Smith', { ignore_labels: 'O' }, 'ignore_labels'],
    ['qa', { question: 'Who?', context: 'Alice.' }, { top_k: 0 }, 'top_k'],
    ['qa', { question: 'Who?', context: 'Alice.' }, { max_answer_len: 0 }, 'max_answer_len'],
    ['qa', { question: 'Who?', context: 'Alice.' }, { doc_stride: -1 }, 'doc_stride'],
    [
      'qa',
      { question: 'Who?', context: 'Alice.' },
      { handle_impossible_answer: 'yes' },
      'handle_impossible_answer',
    ],
    ['fill-mask', 'I drink [MASK].', { top_k: 101 }, 'top_k'],
    ['fill-mask', 'I drink [MASK].', { targets: [] }, 'targets'],
    ['gpt2', 'Once upon a', { max_new_tokens: -1 }, 'max_new_tokens'],
    ['gpt2', 'Once upon a', { max_new_tokens: 0 }, 'max_new_tokens'],
    ['gpt2', 'Once upon a', { max_new_tokens: '5' }, 'max_new_tokens'],
    ['gpt2', 'Once upon a', { temperature: 0 }, 'temperature'],
    ['gpt2', 'Once upon a', { temperature: -1 }, 'temperature'],
    ['gpt2', 'Once upon a', { top_p: 1.5 }, 'top_p'],
    ['gpt2', 'Once upon a', { stop: 'fox' }, 'stop'],
    ['gpt2', 'Once upon a', { seed: -1 }, 'seed'],
    ['gpt2', 'Once upon a', { do_sample: 'yes' }, 'do_sample'],
    ['nli', 'The team won', { candidate_labels: [] }, 'candidate_labels'],
    ['nli', 'The team won', { candidate_labels: [''] }, 'candidate_labels'],
    ['nli', 'The team won', { candidate_labels: 5 }, 'candidate_labels'],
    [
      'nli',
      'The team won',
      { candidate_labels: ['a'], hypothesis_template: 'no placeholder' },
      'hypothesis_template',
    ],
  ];
  for (const [model, inputs, parameters, name] of badParameters) {
    it(`${model}: parameters ${JSON.stringify(parameters)}`, async () => {
      const error = expectError(
        await post(model, { inputs, parameters }),
        400,
        'invalid_request',
        `${model} ${JSON.stringify(parameters)}`,
      );
      assert.ok(error.message.includes(name), `the message should name ${name}: ${error.message}`);
    });
  }

  for (const parameters of [[1], 'top_k=1', 5, true]) {
    it(`sentiment: parameters as ${JSON.stringify(parameters)}`, async () => {
      const error = expectError(
        await post('sentiment', { inputs: 'I love it', parameters }),
        400,
        'invalid_request',
        `parameters ${JSON.stringify(parameters)}`,
      );
      assert.match(error.message, /parameters/, `the message should name parameters: ${error.message}`);
    });
  }

  const unknownParameters: [ModelName, unknown, string][] = [
    ['sentiment', 'I love it', 'foo'],
    ['ner', 'Alice Smith', 'top_k'],
    ['qa', { question: 'Who?', context: 'Alice.' }, 'truncate'],
    ['fill-mask', 'I drink [MASK].', 'temperature'],
    ['gpt2', 'Once upon a', 'max_tokens'],
    ['nli', 'The team won', 'labels'],
  ];
  for (const [model, inputs, name] of unknownParameters) {
    it(`${model}: unknown parameter ${name}`, async () => {
      const parameters: Record<string, unknown> = { [name]: 3 };
      if (model === 'nli') parameters.candidate_labels = ['sports'];
      const error = expectError(
        await post(model, { inputs, parameters }),
        400,
        'invalid_request',
        `${model} unknown ${name}`,
      );
      assert.ok(error.message.includes(name), `the message should name ${name}: ${error.message}`);
    });
  }

  it('sentiment: a language tag of the right form that is no locale (xx-xx-xx) is 400, not 500', async () => {
    const error = expectError(
      await post('sentiment', {
        inputs: 'I love it. Really.',
        parameters: { split: 'sentence', language: 'xx-xx-xx' },
      }),
      400,
      'invalid_request',
      'language xx-xx-xx',
    );
    assert.match(error.message, /language/, `the message should name language: ${error.message}`);
  });
});

describe('empty and whitespace-only text', () => {
  const empty: [ModelName, unknown, Record<string, unknown>?][] = [
    ['sentiment', ''],
    ['sentiment', ['I love it', '']],
    ['nli', { text: 'A man plays football', text_pair: '' }],
    ['ner', ''],
    ['qa', { question: '', context: 'Alice lives in Paris.' }],
    ['qa', { question: 'Where?', context: '' }],
    ['fill-mask', ''],
    ['gpt2', ''],
    ['gpt2', ['']],
    ['nli', '', { candidate_labels: ['sports'] }],
  ];
  for (const [model, inputs, parameters] of empty) {
    it(`${model}: ${JSON.stringify(inputs)} is 400 invalid_request`, async () => {
      expectError(
        await post(model, { inputs, parameters }),
        400,
        'invalid_request',
        `${model} ${JSON.stringify(inputs)}`,
      );
    });
  }

  it('gpt2: a chat message with empty content is a 4xx error, not 500', async () => {
    expectOneOf(
      await post('gpt2', { inputs: [{ role: 'user', content: '' }] }),
      [
        [400, 'invalid_request'],
        [422, 'invalid_input'],
      ],
      'chat message with empty content',
    );
  });

  // Whitespace-only text is well-formed: a defined answer in the task's shape, or 422 invalid_input.
  const blanks = ['   ', '\n\t', '\u00a0\u2003\u3000'];
  const cases: [ModelName, (blank: string) => unknown, (blank: string, v: unknown) => boolean][] = [
    ['sentiment', (b) => b, (_b, v) => isLabelScores(v)],
    ['sentiment', (b) => ({ text: b, text_pair: b }), (_b, v) => isLabelScores(v)],
    ['ner', (b) => b, (b, v) => isEntities(b, v)],
    ['ner', (b) => [b, 'Alice Smith'], (_b, v) => Array.isArray(v) && v.length === 2],
    ['qa', (b) => ({ question: 'Where does Alice live?', context: b }), (b, v) => isAnswer(b, v)],
    [
      'qa',
      (b) => ({ question: b, context: 'Alice lives in Paris.' }),
      (_b, v) => isAnswer('Alice lives in Paris.', v),
    ],
    ['gpt2', (b) => b, (_b, v) => isGenerated(v)],
    ['gpt2', (b) => [{ role: 'user', content: b }], (_b, v) => isGenerated(v)],
    ['nli', (b) => b, (_b, v) => isZeroShot(v)],
  ];
  for (const blank of blanks) {
    for (const [model, inputs, shape] of cases) {
      it(`${model}: ${JSON.stringify(inputs(blank))} is 200 in shape or 422 invalid_input`, async () => {
        const what = `${model} ${JSON.stringify(inputs(blank))}`;
        const parameters = model === 'nli' ? { candidate_labels: ['sports', 'food'] } : undefined;
        const answer = await post(model, { inputs: inputs(blank), parameters });
        if (answer.status === 200) {
          assert.ok(shape(blank, expectOk(answer, what)), `${what}: not the task's shape: ${answer.text}`);
        } else expectError(answer, 422, 'invalid_input', what);
      });
    }
    it(`fill-mask: ${JSON.stringify(blank)} has no mask: 422 invalid_input`, async () => {
      expectError(await post('fill-mask', { inputs: blank }), 422, 'invalid_input', 'blank fill-mask');
    });
  }
});

describe('sizes: body limit and token limits', () => {
  it('a body over max_body_bytes is 413 payload_too_large', async () => {
    const body = JSON.stringify({ inputs: 'good '.repeat(MAX_BODY_BYTES / 4) });
    expectError(await post('sentiment', body), 413, 'payload_too_large', 'large body');
  });

  it('a chunked body over max_body_bytes (no Content-Length) is 413 payload_too_large', async () => {
    const body = JSON.stringify({ inputs: 'good '.repeat(MAX_BODY_BYTES / 2) });
    expectError(
      await send('/models/sentiment', { body, chunked: true }),
      413,
      'payload_too_large',
      'chunked',
    );
  });

  it('a body just under the limit is accepted (truncated to the model)', async () => {
    const body = JSON.stringify({ inputs: 'good '.repeat(13_000), parameters: { truncate: true } });
    assert.ok(Buffer.byteLength(body) < MAX_BODY_BYTES, 'the body is under the limit');
    assert.ok(isLabelScores(expectOk(await post('sentiment', body), 'under the limit')), 'label scores');
  });

  const long: [ModelName, (text: string) => unknown, Record<string, unknown>, (v: unknown) => boolean][] = [
    ['sentiment', (t) => t, {}, isLabelScores],
    ['sentiment', (t) => [t, 'I love it'], {}, isLabelScores],
    ['ner', (t) => t, {}, (v) => Array.isArray(v)],
    ['gpt2', (t) => t, { max_new_tokens: 3 }, isGenerated],
    ['nli', (t) => t, { candidate_labels: ['sports', 'food'] }, isZeroShot],
    ['nli', (t) => ({ text: t, text_pair: 'Nobody plays sports' }), {}, isLabelScores],
    ['fill-mask', (t) => `I drink [MASK]. ${t}`, {}, (v) => Array.isArray(v) && v.length === 5],
  ];
  for (const [model, inputs, parameters, shape] of long) {
    it(`${model}: text over the token limit is 422 input_too_long; with truncate: true, 200`, async () => {
      const text = 'good time with the team '.repeat(1000); // ~24 KB, thousands of tokens
      const max = await maxInputTokens(model);
      const error = expectError(
        await post(model, { inputs: inputs(text), parameters }),
        422,
        'input_too_long',
        `${model} long`,
      );
      assert.equal(error.max_tokens, max, `max_tokens is the model's: ${JSON.stringify(error)}`);
      assert.ok(
        typeof error.tokens === 'number' && error.tokens > max,
        `tokens counts the input: ${JSON.stringify(error)}`,
      );
      const truncated = await post(model, {
        inputs: inputs(text),
        parameters: { ...parameters, truncate: true },
      });
      assert.ok(
        shape(expectOk(truncated, `${model} truncate`)),
        `${model}: shape of ${preview(truncated.text)}`,
      );
    });
  }

  it('fill-mask: a mask that truncation cuts away is 422 invalid_input, not an empty 200', async () => {
    const text = `${'good time with the team '.repeat(1000)} I drink [MASK].`;
    expectError(
      await post('fill-mask', { inputs: text, parameters: { truncate: true } }),
      422,
      'invalid_input',
      'mask after the cut',
    );
  });

  it('qa: a question longer than the model takes is 422 input_too_long with tokens and max_tokens', async () => {
    const max = await maxInputTokens('qa');
    const error = expectError(
      await post('qa', {
        inputs: { question: 'where is it '.repeat(200), context: 'Alice lives in Paris.' },
      }),
      422,
      'input_too_long',
      'long question',
    );
    assert.equal(error.max_tokens, max, JSON.stringify(error));
    assert.ok(typeof error.tokens === 'number' && error.tokens > 0, JSON.stringify(error));
  });

  it('qa: a context longer than the model takes is read in windows: 200 with valid offsets', async () => {
    const context = `${'The weather was mild. '.repeat(300)}Alice lives in Tokyo. ${'It rained. '.repeat(100)}`;
    const answer = expectOk(
      await post('qa', { inputs: { question: 'Where does Alice live?', context } }),
      'long context',
    );
    assert.ok(isAnswer(context, answer), `valid span: ${JSON.stringify(answer)}`);
  });

  it('zero-shot: comma-separated labels obey the same 64-label limit as the array form', async () => {
    const labels = Array.from({ length: 65 }, (_, i) => `label${i}`);
    expectError(
      await post('nli', { inputs: 'The team won', parameters: { candidate_labels: labels } }),
      400,
      'invalid_request',
      '65 labels as an array',
    );
    expectError(
      await post('nli', { inputs: 'The team won', parameters: { candidate_labels: labels.join(',') } }),
      400,
      'invalid_request',
      '65 labels as a comma-separated string',
    );
  });
});

describe('routes and methods', () => {
  it('an unknown model is 404 model_not_found, also with an org/name path', async () => {
    for (const path of ['/models/nope', '/models/some-org/nope', '/models/hubserve-test/tiny-sentiment']) {
      const error = expectError(await send(path, { body: '{"inputs": "hi"}' }), 404, 'model_not_found', path);
      const name = path.slice('/models/'.length);
      assert.ok(error.message.includes(name), `the message should name ${name}: ${error.message}`);
    }
  });

  it('GET /models/{unknown} is 404 model_not_found', async () => {
    expectError(
      await send('/models/nope', { method: 'GET', contentType: null }),
      404,
      'model_not_found',
      'GET unknown',
    );
  });

  it('unknown routes are 404 not_found', async () => {
    for (const [method, path] of [
      ['POST', '/nope'],
      ['GET', '/nope'],
      ['POST', '/models'],
      ['POST', '/models/a/b/c'],
      ['POST', '/v3/models/sentiment'],
    ] as const) {
      const body = method === 'POST' ? '{"inputs": "hi"}' : undefined;
      const contentType = body ? 'application/json' : null;
      expectError(await send(path, { method, body, contentType }), 404, 'not_found', `${method} ${path}`);
    }
  });

  it('POST /models/ (an empty name) is a 404 JSON error', async () => {
    expectOneOf(
      await send('/models/', { body: '{"inputs": "hi"}' }),
      [
        [404, 'not_found'],
        [404, 'model_not_found'],
      ],
      'POST /models/',
    );
  });

  it('a path that is not valid percent-encoding (/models/%ff) is 400 invalid_request in the JSON shape', async () => {
    expectError(
      await send('/models/%ff', { body: '{"inputs": "hi"}' }),
      400,
      'invalid_request',
      'POST /models/%ff',
    );
  });

  it('a model name longer than the router takes is a documented JSON error, not a bare 414', async () => {
    expectOneOf(
      await send(`/models/${'a'.repeat(300)}`, { body: '{"inputs": "hi"}' }),
      [
        [404, 'model_not_found'],
        [400, 'invalid_request'],
      ],
      'a 300-character name',
    );
  });

  it(`a model whose configured name is ${LONG_NAME.length} characters (the config allows 200) is served`, async () => {
    const answer = await post(LONG_NAME, { inputs: 'I love this wonderful film' });
    assert.ok(isLabelScores(expectOk(answer, 'long name')), `label scores: ${answer.text}`);
  });

  it('GET /models/{name} (the same path as the POST route) describes the model', async () => {
    const body = expectOk(await send('/models/sentiment', { method: 'GET', contentType: null }), 'GET');
    assert.ok(
      isRecord(body) && body.name === 'sentiment',
      `the model's description: ${JSON.stringify(body)}`,
    );
  });

  it('other methods on the inference route are 404 or 405 in the JSON error shape', async () => {
    for (const method of ['PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const answer = await send('/models/sentiment', { method, body: '{"inputs": "hi"}' });
      const error = documentedError(answer, `${method} /models/sentiment`);
      assert.ok([404, 405].includes(answer.status), `${method}: ${answer.status} ${error.code}`);
    }
  });
});

describe('Unicode', () => {
  const utf8 = (...parts: (string | number[])[]): Buffer =>
    Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));
  const invalid: [string, Buffer][] = [
    ['0xff 0xfe inside a string', utf8('{"inputs": "I love ', [0xff, 0xfe], ' this film"}')],
    ['a lone continuation byte', utf8('{"inputs": "I love ', [0x80], '"}')],
    ['an overlong encoding of /', utf8('{"inputs": "a', [0xc0, 0xaf], 'b"}')],
    ['a truncated 3-byte sequence', utf8('{"inputs": "a', [0xe2, 0x82], '"}')],
    ['a UTF-8-encoded surrogate (CESU-8)', utf8('{"inputs": "a', [0xed, 0xa0, 0x80], 'b"}')],
    ['a code point above U+10FFFF', utf8('{"inputs": "a', [0xf4, 0x90, 0x80, 0x80], 'b"}')],
    ['Latin-1 bytes', utf8('{"inputs": "caf', [0xe9], '"}')],
  ];
  for (const [label, body] of invalid) {
    it(`invalid UTF-8 (${label}) is 400 invalid_request`, async () => {
      expectError(await send('/models/sentiment', { body }), 400, 'invalid_request', label);
    });
  }

  const surrogates: [ModelName, string][] = [
    ['sentiment', '{"inputs": "I love \\ud800 this"}'],
    ['sentiment', '{"inputs": ["fine", "\\udc00"]}'],
    ['ner', '{"inputs": "Alice \\udbff"}'],
    ['qa', '{"inputs": {"question": "Where?", "context": "Paris \\ud800"}}'],
    ['gpt2', '{"inputs": [{"role": "user", "content": "hi \\udfff"}]}'],
    ['fill-mask', '{"inputs": "I drink [MASK] \\ude00"}'],
    ['nli', '{"inputs": "sports", "parameters": {"candidate_labels": ["\\ud800", "sports"]}}'],
    ['fill-mask', '{"inputs": "I drink [MASK].", "parameters": {"targets": ["\\udc00"]}}'],
  ];
  for (const [model, body] of surrogates) {
    it(`${model}: a lone surrogate ${body} is 422 invalid_input`, async () => {
      expectError(await post(model, body), 422, 'invalid_input', `${model} ${body}`);
    });
  }

  const around: [string, string, string][] = [
    ['emoji', '😀 ', ' 🎉'],
    ['a ZWJ emoji sequence', '👩‍👩‍👧 ', ''],
    ['a flag', '🇫🇷 ', ' 🇫🇷'],
    ['astral letters', '𝐀𝐁𝐂 ', ''],
    ['Arabic (RTL)', 'مرحبا ', ' شكرا'],
    ['Hebrew with a RTL mark', '\u200fשלום ', ''],
    ['combining marks', 'Cafe\u0301 ', ' ne\u0301e'],
    ['zero-width joiner and space', 'x\u200dy\u200b ', ''],
    ['CJK', '東京 ', ' 北京'],
    ['typographic punctuation', '«»—… ', ''],
  ];
  for (const [label, before_, after_] of around) {
    it(`ner with ${label}: the entities, and offsets that slice the original text`, async () => {
      const text = `${before_}Alice Smith moved to Paris${after_}`;
      const entities = expectOk(await post('ner', { inputs: text }), label);
      assert.ok(isEntities(text, entities), `${label}: offsets: ${JSON.stringify(entities)}`);
      assert.deepEqual(
        entityPairs(text, entities),
        [
          ['PER', 'Alice Smith'],
          ['LOC', 'Paris'],
        ],
        `${label}: ${JSON.stringify(entities)}`,
      );
    });
  }

  it('sentiment through emoji, ZWJ sequences and CJK', async () => {
    const sentiment = expectOk(
      await post('sentiment', { inputs: '😀👩‍👩‍👧 I love this wonderful film 🎬 東京' }),
      'sentiment',
    );
    assert.ok(isLabelScores(sentiment), JSON.stringify(sentiment));
    assert.equal((sentiment as { label: string }[][])[0]?.[0]?.label, 'POSITIVE', JSON.stringify(sentiment));
  });

  it('qa after an emoji: the answer and offsets that slice the original context', async () => {
    const context = '😀 Alice Smith lives in Paris 東京 since 2020.';
    const answer = expectOk(
      await post('qa', { inputs: { question: 'Where does Alice live?', context } }),
      'qa',
    );
    assert.ok(isAnswer(context, answer), JSON.stringify(answer));
    assert.equal((answer as { answer: string }).answer, 'Paris', JSON.stringify(answer));
  });

  it('fill-mask, zero-shot and gpt2 through emoji, CJK and RTL text', async () => {
    const fills = expectOk(
      await post('fill-mask', { inputs: '😀 I drink [MASK] every morning. 東京' }),
      'fill',
    );
    assert.equal((fills as { token_str: string }[])[0]?.token_str, 'coffee', JSON.stringify(fills));
    const zeroShot = expectOk(
      await post('nli', {
        inputs: '⚽ The team won the football match 🏆',
        parameters: { candidate_labels: ['sports 🏅', 'food'] },
      }),
      'zero-shot',
    );
    assert.ok(isZeroShot(zeroShot), JSON.stringify(zeroShot));
    const generated = expectOk(
      await post('gpt2', { inputs: 'مرحبا 😀 Once upon a', parameters: { max_new_tokens: 5 } }),
      'gpt2',
    );
    assert.ok(isGenerated(generated), JSON.stringify(generated));
  });

  it('a well-formed surrogate pair sent as JSON escapes is fine', async () => {
    const escaped = expectOk(await post('sentiment', '{"inputs": "I love \\ud83d\\ude00 this"}'), 'pair');
    assert.ok(isLabelScores(escaped), JSON.stringify(escaped));
  });
});

describe('content types', () => {
  const body = '{"inputs": "I love this wonderful film"}';
  for (const contentType of [
    'text/plain',
    'text/plain; charset=utf-8',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=xyz',
    'application/xml',
    'application/octet-stream',
    'text/json',
    'application/jsonx',
    null,
  ]) {
    it(`${contentType ?? 'no Content-Type'} is 415 unsupported_media_type`, async () => {
      expectError(
        await send('/models/sentiment', { body, contentType }),
        415,
        'unsupported_media_type',
        String(contentType),
      );
    });
  }

  it('application/json with parameters (charset) is accepted', async () => {
    for (const contentType of ['application/json; charset=utf-8', 'Application/JSON']) {
      assert.ok(
        isLabelScores(expectOk(await send('/models/sentiment', { body, contentType }), contentType)),
        contentType,
      );
    }
  });
});

describe('deeply nested JSON', () => {
  const deep: [string, ModelName, string][] = [
    ['10 000 nested arrays as inputs', 'sentiment', `{"inputs": ${'['.repeat(10_000)}${']'.repeat(10_000)}}`],
    ['30 000 nested arrays as inputs', 'ner', `{"inputs": ${'['.repeat(30_000)}${']'.repeat(30_000)}}`],
    [
      '5 000 nested objects as inputs',
      'sentiment',
      `{"inputs": ${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}}`,
    ],
    [
      '5 000 nested objects in parameters',
      'gpt2',
      `{"inputs": "hi", "parameters": {"stop": ${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}}}`,
    ],
    [
      '20 000 nested arrays as a chat message',
      'gpt2',
      `{"inputs": [{"role": "user", "content": ${'['.repeat(20_000)}${']'.repeat(20_000)}}]}`,
    ],
    [
      '20 000 nested arrays as a question',
      'qa',
      `{"inputs": {"question": ${'['.repeat(20_000)}${']'.repeat(20_000)}, "context": "x"}}`,
    ],
  ];
  for (const [label, model, body] of deep) {
    it(`${label}: a 4xx JSON error`, async () => {
      assert.ok(Buffer.byteLength(body) < MAX_BODY_BYTES, `${label} fits the body limit`);
      const answer = await post(model, body);
      documentedError(answer, label);
      assert.ok(answer.status >= 400 && answer.status < 500, `${label}: ${answer.status}`);
    });
  }
});

describe('question answering without an answer', () => {
  const context = 'The weather was mild and the streets were quiet.';
  const question = 'What is the capital of France?';

  it('200 with the answer shape and valid offsets', async () => {
    const answer = expectOk(await post('qa', { inputs: { question, context } }), 'no answer');
    assert.ok(isAnswer(context, answer), JSON.stringify(answer));
  });

  it('handle_impossible_answer: true: 200 with the answer shape; an empty answer has start == end', async () => {
    const answer = expectOk(
      await post('qa', { inputs: { question, context }, parameters: { handle_impossible_answer: true } }),
      'impossible',
    );
    assert.ok(isAnswer(context, answer), JSON.stringify(answer));
    const answers = expectOk(
      await post('qa', {
        inputs: { question, context },
        parameters: { handle_impossible_answer: true, top_k: 3 },
      }),
      'impossible, top_k',
    );
    assert.ok(
      Array.isArray(answers) && answers.length >= 1 && answers.length <= 3,
      `up to 3 answers: ${JSON.stringify(answers)}`,
    );
    assert.ok(
      answers.every((a: unknown) => isAnswer(context, a)),
      `every answer in shape: ${JSON.stringify(answers)}`,
    );
  });
});

describe('fill-mask and zero-shot misuse', () => {
  it('fill-mask without the mask token is 422 invalid_input naming the mask token', async () => {
    for (const inputs of [
      'I drink coffee every morning.',
      'I drink [mask] now',
      ['I drink [MASK].', 'no mask'],
    ]) {
      const error = expectError(
        await post('fill-mask', { inputs }),
        422,
        'invalid_input',
        `fill-mask ${JSON.stringify(inputs)}`,
      );
      assert.equal(error.mask_token, '[MASK]', JSON.stringify(error));
    }
  });

  it('zero-shot on a non-NLI model (sentiment with candidate_labels) is 400 task_not_supported', async () => {
    const error = expectError(
      await post('sentiment', {
        inputs: 'The team won',
        parameters: { candidate_labels: ['sports', 'food'] },
      }),
      400,
      'task_not_supported',
      'zero-shot on sentiment',
    );
    assert.match(error.message, /NLI|entailment/, error.message);
  });

  it('zero-shot with labels that are only commas and spaces is a 4xx error, not 500', async () => {
    expectOneOf(
      await post('nli', { inputs: 'The team won', parameters: { candidate_labels: ' , ,, ' } }),
      [
        [400, 'invalid_request'],
        [422, 'invalid_input'],
      ],
      'labels " , ,, "',
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// The fuzz loop.

type Random = () => number;

const JSON_TYPES = ['application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON'];
const BAD_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=b',
  'application/xml',
  'application/octet-stream',
  'text/json',
  'application/jsonx',
  '*/*',
  'x',
];
const BAD_PATHS = [
  '/models/nope',
  '/models/org/nope',
  '/models/',
  '/models/sentiment/extra/x',
  '/nope',
  '/models/%F0%9F%98%80',
  '/models/..%2F..%2Fetc%2Fpasswd',
  '/models/%ff',
  `/models/${'a'.repeat(300)}`,
  '/models/sentiment?x=%zz',
];
const PIECES = [
  'I',
  'love',
  'this',
  'wonderful',
  'film',
  'terrible',
  'Alice',
  'Smith',
  'Paris',
  'Once',
  'upon',
  'a',
  'time',
  '[MASK]',
  '[CLS]',
  '<s>',
  '{}',
  '"',
  '\\',
  ',',
  '.',
  '😀',
  '👩‍👩‍👧',
  '🇫🇷',
  '東京',
  'مرحبا',
  'e\u0301',
  '\u200d',
  '\u200b',
  '\ufeff',
  '\u0000',
  '\u2028',
];
const PARAMETER_VALUES: Record<string, unknown[]> = {
  top_k: [1, 3, 0, -1, 1.5, '3', 100, 1e9, null],
  function_to_apply: ['softmax', 'sigmoid', 'none', 'relu', 1],
  truncate: [true, false, 'yes', 1],
  split: ['sentence', 'paragraph', true],
  language: ['en', 'fr-FR', 'xx-xx-xx', 'en-abcde-abcde', 'not a locale', ''],
  aggregation_strategy: ['none', 'simple', 'first', 'average', 'max', 'bogus'],
  ignore_labels: [['O'], [], 'O', [1]],
  max_answer_len: [1, 15, 512, 0, 513],
  doc_stride: [1, 64, 128, 0, 1e6],
  handle_impossible_answer: [true, false, 'yes'],
  targets: [['coffee'], ['tea', 'water'], [], [''], 'coffee', ['zzqqxx']],
  max_new_tokens: [1, 5, 20, 64, 0, -1, '5', 1e9, 2.5],
  do_sample: [true, false, 'yes'],
  temperature: [0.5, 1, 0, -1, 1e-9, 100, 101, 'hot'],
  top_p: [0.5, 1, 0, 1.5, 1e-9],
  repetition_penalty: [1, 1.2, 0, -1, 100],
  stop: [['.'], [' fox'], [], 'fox', [''], ['a'.repeat(201)]],
  seed: [0, 1, 42, -1, 1.5, 2 ** 60],
  return_full_text: [true, false, 'no'],
  details: [true, false, 0],
  candidate_labels: [['sports', 'food'], 'sports, food', [], '', ' , ', ['a'.repeat(201)], [1]],
  multi_label: [true, false, 'yes'],
  hypothesis_template: ['This is about {}.', 'no placeholder', '{} {}', ''],
};
const PARAMETER_NAMES = Object.keys(PARAMETER_VALUES);

class Fuzzer {
  constructor(private readonly random: Random) {}

  int(n: number): number {
    return Math.floor(this.random() * n);
  }

  chance(p: number): boolean {
    return this.random() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  /** Random text: words, emoji, CJK, RTL, controls, lone surrogates, sometimes very long. */
  text(): string {
    if (this.chance(0.03)) return `${this.pick(PIECES)} `.repeat(this.int(MAX_BODY_BYTES / 3));
    if (this.chance(0.05)) return this.pick(['', ' ', '\n\t ', '\u3000']);
    const parts: string[] = [];
    for (let n = 1 + this.int(12); n > 0; n--) {
      const roll = this.int(20);
      if (roll < 14) parts.push(this.pick(PIECES));
      else if (roll === 14)
        parts.push(String.fromCharCode(0xd800 + this.int(0x800))); // a lone surrogate
      else if (roll < 17) parts.push(String.fromCharCode(this.int(0xd800)));
      else if (roll < 19) parts.push(String.fromCodePoint(0x10000 + this.int(0x100000 - 0x10000)));
      else parts.push(String.fromCharCode(this.int(32)));
      parts.push(this.chance(0.7) ? ' ' : '');
    }
    return parts.join('');
  }

  /** Any JSON value, nested up to `depth`. */
  value(depth = 3): unknown {
    const roll = this.int(depth > 0 ? 9 : 7);
    switch (roll) {
      case 0:
        return this.pick([0, -0, 1, -1, 1.5, 2 ** 53 + 1, 1e308, -1e-308, 3]);
      case 1:
        return this.chance(0.5);
      case 2:
        return null;
      case 3:
      case 4:
      case 5:
      case 6:
        return this.text();
      case 7:
        return Array.from({ length: this.int(4) }, () => this.value(depth - 1));
      default:
        return Object.fromEntries(
          Array.from({ length: this.int(4) }, () => [
            this.chance(0.5)
              ? this.pick(['text', 'text_pair', 'question', 'context', 'role', 'content'])
              : this.text(),
            this.value(depth - 1),
          ]),
        );
    }
  }

  /** Inputs that look like the model's, often slightly wrong. */
  inputs(model: ModelName): unknown {
    if (this.chance(0.2)) return this.value();
    switch (model) {
      case 'sentiment':
        return this.pick([
          () => this.text(),
          () => [this.text(), this.text()],
          () => ({ text: this.text(), text_pair: this.text() }),
        ])();
      case 'ner':
      case 'fill-mask': {
        const text = this.text();
        const masked = model === 'fill-mask' && this.chance(0.7) ? `${text} [MASK] ${this.text()}` : text;
        return this.chance(0.7) ? masked : [masked, this.text()];
      }
      case 'qa':
        return this.chance(0.9)
          ? { question: this.text(), context: this.text() }
          : { question: this.text(), context: this.text(), extra: this.value(1) };
      case 'gpt2':
        return this.pick([
          () => this.text(),
          () => [this.text()],
          () => [{ role: this.pick(['user', 'system', 'assistant', 'tool']), content: this.text() }],
        ])();
      case 'nli':
        return this.chance(0.8) ? this.text() : { text: this.text(), text_pair: this.text() };
    }
  }

  parameters(): unknown {
    if (this.chance(0.3)) return undefined;
    if (this.chance(0.05)) return this.value(1);
    const parameters: Record<string, unknown> = {};
    for (let n = this.int(4); n > 0; n--) {
      const name = this.pick(PARAMETER_NAMES);
      parameters[name] = this.chance(0.8) ? this.pick(PARAMETER_VALUES[name] ?? [null]) : this.value(1);
    }
    if (this.chance(0.1)) parameters[this.pick(['foo', 'max_tokens', 'wait_for_model', '__proto__'])] = 1;
    return parameters;
  }

  /** A byte-level mutation of a JSON text: cut, insert, replace or remove. */
  mutate(bytes: Buffer): Buffer {
    const at = this.int(bytes.length + 1);
    switch (this.int(5)) {
      case 0:
        return bytes.subarray(0, at);
      case 1:
        return Buffer.concat([bytes.subarray(0, at), Buffer.from([this.int(256)]), bytes.subarray(at)]);
      case 2:
        return Buffer.concat([
          bytes.subarray(0, at),
          Buffer.from(this.pick(['"', '{', ']', ',', '\\', 'NaN'])),
          bytes.subarray(at),
        ]);
      case 3:
        return Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1 + this.int(8))]);
      default:
        return Buffer.concat([bytes, Buffer.from(this.pick([' x', '}', ',', '\u0000', ' {}']))]);
    }
  }

  /** JSON-ish garbage bytes. */
  garbage(): Buffer {
    const alphabet = Buffer.from('{}[]":,0123456789.eE-+ truefalsnul\\\n\tinputs');
    return Buffer.from(
      Array.from({ length: this.int(200) }, () =>
        this.chance(0.1) ? 0x80 + this.int(128) : this.pick([...alphabet]),
      ),
    );
  }
}

interface FuzzRequest {
  method: string;
  path: string;
  body?: Buffer;
  contentType: string | null;
  /** Sure to be refused (bad route, content type, bytes or JSON); otherwise a 200 is allowed too. */
  mustFail: boolean;
}

function fuzzRequest(f: Fuzzer): FuzzRequest {
  const model = f.pick(MODELS);
  const path = f.chance(0.9) ? `/models/${model}` : f.pick(BAD_PATHS);
  const method = f.chance(0.95) ? 'POST' : f.pick(['GET', 'PUT', 'DELETE', 'PATCH']);
  const contentType = f.chance(0.88) ? f.pick(JSON_TYPES) : f.chance(0.8) ? f.pick(BAD_TYPES) : null;
  let body: Buffer;
  const kind = f.int(20);
  if (kind < 3) body = f.garbage();
  else if (kind < 4) body = Buffer.from(JSON.stringify(f.value()) ?? '');
  else {
    const request: Record<string, unknown> = { inputs: f.inputs(model), parameters: f.parameters() };
    if (f.chance(0.05)) delete request.inputs;
    if (f.chance(0.05)) request[f.pick(['options', 'stream', 'input'])] = f.value(1);
    body = Buffer.from(JSON.stringify(request));
    if (kind < 7) body = f.mutate(body);
  }
  let parsed: unknown = undefined;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch {
    // not valid UTF-8 JSON: must fail
  }
  const servedPath = MODELS.some((m) => path.split('?')[0] === `/models/${m}`);
  const mustFail =
    method !== 'POST' ||
    !servedPath ||
    contentType === null ||
    BAD_TYPES.includes(contentType) ||
    !isRecord(parsed) ||
    !('inputs' in parsed) ||
    body.byteLength > MAX_BODY_BYTES;
  if (method === 'GET') return { method, path, contentType: null, mustFail: !servedPath };
  return { method, path, body, contentType, mustFail };
}

describe('fuzz', () => {
  const SEED = 0x5eed_2024;
  const COUNT = 2000;
  const VALID_EVERY = 20;

  it(
    `${COUNT} generated bad requests (seed ${SEED}), a valid one every ${VALID_EVERY}: only documented errors`,
    { timeout: 60_000 },
    async (t) => {
      const f = new Fuzzer(rng(SEED));
      const requests = Array.from({ length: COUNT }, () => fuzzRequest(f));
      const problems = new Map<string, string>(); // one example per kind of problem
      const statuses = new Map<string, number>();
      let valid = 0;
      const started = performance.now();
      const problem = (kind: string, example: string): void => {
        if (!problems.has(kind)) problems.set(kind, example);
      };
      const describeRequest = (r: FuzzRequest): string =>
        `${r.method} ${r.path} [${r.contentType ?? 'no content-type'}] ${preview(r.body?.toString('utf8') ?? '', 200)}`;

      await pool(
        requests.flatMap((r, i) => ((i + 1) % VALID_EVERY === 0 ? [r, undefined] : [r])),
        8,
        async (r) => {
          if (r === undefined) {
            valid++;
            const answer = await send('/models/sentiment', {
              body: '{"inputs": "I love this wonderful film"}',
            }).catch((error: unknown) => ({
              status: 0,
              contentType: '',
              text: String(error),
              json: undefined,
            }));
            const label = (answer.json as { label?: string }[][] | undefined)?.[0]?.[0]?.label;
            if (answer.status !== 200 || label !== 'POSITIVE') {
              problem(`valid request: ${answer.status}`, preview(answer.text));
            }
            return;
          }
          let answer: Answer;
          try {
            answer = await send(r.path, {
              method: r.method,
              ...(r.body ? { body: r.body } : {}),
              contentType: r.contentType,
              timeoutMs: 20_000,
            });
          } catch (error) {
            problem(`no answer: ${String(error)}`, describeRequest(r));
            return;
          }
          const error = isErrorBody(answer.json) ? answer.json.error : undefined;
          const outcome = `${answer.status} ${error?.code ?? ''}`.trim();
          statuses.set(outcome, (statuses.get(outcome) ?? 0) + 1);
          if (answer.status >= 500) {
            problem(
              `${answer.status} ${error?.code ?? ''} ${preview(error?.message ?? answer.text, 80)}`,
              describeRequest(r),
            );
            return;
          }
          if (answer.status === 200 && !r.mustFail) {
            if (!/^application\/json\b/.test(answer.contentType) || answer.json === undefined) {
              problem('200 that is not JSON', `${describeRequest(r)} -> ${preview(answer.text)}`);
            }
            return;
          }
          try {
            documentedError(answer, describeRequest(r));
            if (r.mustFail && answer.status < 400)
              throw new Error(`answered ${answer.status} to a bad request`);
          } catch (failure) {
            problem(`undocumented ${answer.status} ${error?.code ?? ''}`, (failure as Error).message);
          }
        },
      );
      const seconds = (performance.now() - started) / 1000;
      t.diagnostic(`${COUNT} fuzz requests + ${valid} valid ones in ${seconds.toFixed(1)} s`);
      t.diagnostic(`answers: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
      assert.equal(valid, COUNT / VALID_EVERY, 'every interleaved valid request was sent');
      assert.equal(
        problems.size,
        0,
        `problems (one example each):\n${[...problems].map(([k, v]) => `- ${k}\n    ${v}`).join('\n')}`,
      );
      const health = await send('/health', { method: 'GET', contentType: null });
      assert.equal(health.status, 200, 'the server still answers /health after the fuzz');
    },
  );
});

describe('after all of it', () => {
  it('GET /health is 200 and every model still answers a valid request', async () => {
    const health = expectOk(await send('/health', { method: 'GET', contentType: null }), '/health');
    assert.deepEqual(health, { status: 'ok' }, JSON.stringify(health));
    const ready = await send('/ready', { method: 'GET', contentType: null });
    assert.equal(ready.status, 200, `/ready: ${ready.text}`);

    const sentiment = expectOk(
      await post('sentiment', { inputs: 'I love this wonderful film' }),
      'sentiment',
    );
    assert.equal((sentiment as { label: string }[][])[0]?.[0]?.label, 'POSITIVE', JSON.stringify(sentiment));

    const text = 'Alice Smith moved to Paris';
    const entities = expectOk(await post('ner', { inputs: text }), 'ner');
    assert.deepEqual(
      entityPairs(text, entities),
      [
        ['PER', 'Alice Smith'],
        ['LOC', 'Paris'],
      ],
      JSON.stringify(entities),
    );

    const context = 'Alice Smith lives in Paris since 2020.';
    const answer = expectOk(
      await post('qa', { inputs: { question: 'Where does Alice live?', context } }),
      'qa',
    ) as { answer: string };
    assert.equal(answer.answer, 'Paris', JSON.stringify(answer));

    const fills = expectOk(await post('fill-mask', { inputs: 'I drink [MASK] every morning.' }), 'fill-mask');
    assert.equal((fills as { token_str: string }[])[0]?.token_str, 'coffee', JSON.stringify(fills));

    const generated = expectOk(
      await post('gpt2', { inputs: 'Once upon a', parameters: { max_new_tokens: 30 } }),
      'gpt2',
    );
    assert.equal(
      (generated as { generated_text: string }[])[0]?.generated_text,
      ' time there was a little fox who lived in a forest.',
      JSON.stringify(generated),
    );

    const zeroShot = expectOk(
      await post('nli', {
        inputs: 'The team won the football match',
        parameters: { candidate_labels: ['politics', 'sports', 'food'] },
      }),
      'nli',
    ) as { labels: string[] };
    assert.equal(zeroShot.labels[0], 'sports', JSON.stringify(zeroShot));
  });
});
