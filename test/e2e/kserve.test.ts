// KServe's Open Inference Protocol v2 (REST) on a real server: metadata, health, readiness and infer
// for each kind of task, answers checked against POST /models/{name} for the same inputs, versions
// from the mock Hub, and every /v2 error in the protocol's {"error": "<message>"} shape.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, mock } from 'node:test';
import { testModelPath } from '../../tools/testmodels/index.ts';
import { type MockHub, startMockHub } from '../support/mock-hub.ts';
import { serve, type TestServer, tiny } from '../support/server.ts';

interface Tensor {
  name: string;
  datatype: string;
  shape: number[];
  data: unknown[];
}
interface InferResponse {
  model_name: string;
  model_version?: string;
  id: string;
  outputs: Tensor[];
}

let server: TestServer;
const closing: { close(): Promise<void> }[] = [];
const temps: string[] = [];
// File level: an after() registered inside a before() hook would run as soon as that hook ends.
after(async () => {
  await Promise.allSettled(closing.map((c) => c.close()));
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

before(async () => {
  server = await serve([
    tiny('sentiment', 'hubserve-test/tiny-sentiment'),
    tiny('nli', 'hubserve-test/tiny-nli'),
    tiny('ner', 'hubserve-test/tiny-ner'),
    tiny('qa', 'hubserve-test/tiny-qa'),
    tiny('embeddings', 'hubserve-test/tiny-embeddings'),
    tiny('gpt2', 'hubserve-test/tiny-gpt2'),
    tiny('translate', 'hubserve-test/tiny-t5-translate', { task: 'translation' }),
  ]);
  closing.push(server);
});

async function get(path: string, on: TestServer = server): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${on.url}${path}`);
  return { status: response.status, body: await response.json() };
}

const bytes = (name: string, data: unknown[], shape = [data.length]) => ({
  name,
  shape,
  datatype: 'BYTES',
  data,
});

async function infer(model: string, body: unknown, on: TestServer = server): Promise<InferResponse> {
  const response = await on.post(`/v2/models/${model}/infer`, body);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body as InferResponse;
}

function output(response: InferResponse, name: string): Tensor {
  const tensor = response.outputs.find((o) => o.name === name);
  assert.ok(tensor, `output ${name} in ${JSON.stringify(response.outputs.map((o) => o.name))}`);
  return tensor;
}

/** Each input's answer, from the `output` tensor's JSON. */
const answers = (response: InferResponse): unknown[] =>
  output(response, 'output').data.map((d) => JSON.parse(d as string) as unknown);

/** The same request through the Hugging Face API shapes, for comparison. */
async function hf(model: string, body: unknown): Promise<unknown> {
  const response = await server.post(`/models/${model}`, body);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body;
}

/** A /v2 error: the status, and a body that is exactly {"error": "<message>"} matching `pattern`. */
function assertV2Error(response: { status: number; body: unknown }, status: number, pattern: RegExp): void {
  const text = JSON.stringify(response.body);
  assert.equal(response.status, status, text);
  const body = response.body as Record<string, unknown>;
  assert.deepEqual(Object.keys(body), ['error'], `only "error" in ${text}`);
  assert.equal(typeof body.error, 'string', `the error is a string: ${text}`);
  assert.match(body.error as string, pattern);
}

describe('KServe v2: server', () => {
  it('answers server metadata at /v2', async () => {
    assert.deepEqual(await get('/v2'), {
      status: 200,
      body: { name: 'hubserve', version: 'test', extensions: [] },
    });
  });

  it('is live and ready once every model is', async () => {
    assert.deepEqual(await get('/v2/health/live'), { status: 200, body: { live: true } });
    assert.deepEqual(await get('/v2/health/ready'), { status: 200, body: { ready: true } });
  });

  it('documents the /v2 routes in OpenAPI under the kserve tag', async () => {
    const doc = (await get('/openapi.json')).body as {
      paths: Record<string, { get?: { tags?: string[] }; post?: { tags?: string[] } }>;
      components: { schemas: Record<string, unknown> };
    };
    assert.deepEqual(doc.paths['/v2/models/{name}/infer']?.post?.tags, ['kserve']);
    assert.deepEqual(doc.paths['/v2/models/{org}/{name}/versions/{version}/ready']?.get?.tags, ['kserve']);
    for (const schema of ['V2InferenceRequest', 'V2InferenceResponse', 'V2ModelMetadata', 'V2Error']) {
      assert.ok(doc.components.schemas[schema], `${schema} is a component`);
    }
  });

  it('answers unknown /v2 routes 404 in the v2 shape, and leaves the other routes their own', async () => {
    assertV2Error(await get('/v2/health/startup'), 404, /no route GET/);
    const other = await get('/nothing-here');
    assert.equal(other.status, 404);
    assert.equal((other.body as { error: { code: string } }).error.code, 'not_found', JSON.stringify(other));
  });
});

describe('KServe v2: models', () => {
  const bytesOf = (...names: string[]) => names.map((name) => ({ name, datatype: 'BYTES', shape: [-1] }));

  it('gives tensor metadata by task, with or without a version', async () => {
    const sentiment = {
      name: 'sentiment',
      versions: ['1'],
      platform: 'hubserve/text-classification',
      inputs: bytesOf('text', 'text_pair'),
      outputs: [...bytesOf('output', 'label'), { name: 'score', datatype: 'FP32', shape: [-1] }],
    };
    assert.deepEqual(await get('/v2/models/sentiment'), { status: 200, body: sentiment });
    assert.deepEqual(await get('/v2/models/sentiment/versions/1'), { status: 200, body: sentiment });
    const qa = (await get('/v2/models/qa')).body as { inputs: unknown; outputs: unknown };
    assert.deepEqual(qa.inputs, bytesOf('question', 'context'));
    assert.deepEqual(qa.outputs, bytesOf('output', 'answer'));
    const embeddings = (await get('/v2/models/embeddings')).body as { platform: string; outputs: unknown };
    assert.equal(embeddings.platform, 'hubserve/feature-extraction');
    assert.deepEqual(embeddings.outputs, [
      ...bytesOf('output'),
      { name: 'embedding', datatype: 'FP32', shape: [-1, -1] },
    ]);
    const gpt2 = (await get('/v2/models/gpt2')).body as { inputs: unknown; outputs: unknown };
    assert.deepEqual(gpt2.inputs, bytesOf('text'));
    assert.deepEqual(gpt2.outputs, bytesOf('output', 'generated_text'));
  });

  it('says a model is ready', async () => {
    assert.deepEqual(await get('/v2/models/ner/ready'), { status: 200, body: { name: 'ner', ready: true } });
    assert.deepEqual(await get('/v2/models/ner/versions/1/ready'), {
      status: 200,
      body: { name: 'ner', ready: true },
    });
  });

  it('answers 404 for an unknown model or version', async () => {
    assertV2Error(await get('/v2/models/nope'), 404, /no model named "nope"/);
    assertV2Error(await get('/v2/models/nope/ready'), 404, /no model named "nope"/);
    assertV2Error(await get('/v2/models/sentiment/versions/7'), 404, /no version "7"/);
    assertV2Error(await get('/v2/models/sentiment/versions/7/ready'), 404, /no version "7"/);
  });
});

describe('KServe v2: infer', () => {
  it('text-classification: the top label and score the model gives, per input', async () => {
    const texts = ['I love this wonderful film', 'The food was terrible'];
    // The KServe spec's example request, with text: an id, a [2, 1] tensor of nested data.
    const response = await infer('sentiment', {
      id: '42',
      inputs: [bytes('text', [[texts[0]], [texts[1]]], [2, 1])],
    });
    const expected = (await hf('sentiment', { inputs: texts })) as { label: string; score: number }[][];
    assert.equal(response.model_name, 'sentiment');
    assert.equal(response.id, '42');
    assert.equal(response.model_version, undefined, 'no version asked, none answered');
    assert.deepEqual(answers(response), expected);
    assert.deepEqual(output(response, 'label'), {
      name: 'label',
      datatype: 'BYTES',
      shape: [2],
      data: expected.map((r) => r[0]?.label),
    });
    assert.deepEqual(output(response, 'score'), {
      name: 'score',
      datatype: 'FP32',
      shape: [2],
      data: expected.map((r) => r[0]?.score),
    });
    assert.deepEqual(
      output(response, 'label').data,
      ['POSITIVE', 'NEGATIVE'],
      'the tiny model knows these texts',
    );
  });

  it('text-classification of pairs (text_pair) and zero-shot (candidate_labels parameter)', async () => {
    const pair = { text: 'A man is playing football', text_pair: 'Nobody plays sports' };
    const pairs = await infer('nli', {
      inputs: [bytes('text', [pair.text]), bytes('text_pair', [pair.text_pair])],
    });
    assert.deepEqual(answers(pairs), await hf('nli', { inputs: [pair] }));
    assert.deepEqual(output(pairs, 'label').data, ['contradiction']);

    const text = 'The team won the football match yesterday';
    const parameters = { candidate_labels: ['sports', 'politics', 'food'] };
    const zeroShot = await infer('nli', { inputs: [bytes('text', [text])], parameters });
    const expected = (await hf('nli', { inputs: [text], parameters })) as {
      labels: string[];
      scores: number[];
    }[];
    assert.deepEqual(answers(zeroShot), expected);
    assert.deepEqual(output(zeroShot, 'label').data, [expected[0]?.labels[0]]);
    assert.deepEqual(output(zeroShot, 'score').data, [expected[0]?.scores[0]]);
  });

  it('token-classification: entities per input as JSON', async () => {
    const texts = ['Yesterday Alice Smith moved to Paris to work for Google.', 'Bob lives in Berlin'];
    const response = await infer('ner', { inputs: [bytes('text', texts)] });
    assert.deepEqual(
      response.outputs.map((o) => o.name),
      ['output'],
    );
    assert.deepEqual(answers(response), await hf('ner', { inputs: texts }));
    const [first] = answers(response) as { entity_group: string; word: string }[][];
    assert.deepEqual(
      first?.map((e) => [e.entity_group, e.word]),
      [
        ['PER', 'Alice Smith'],
        ['LOC', 'Paris'],
        ['ORG', 'Google'],
      ],
    );
  });

  it('question-answering: question and context tensors, one answer per pair', async () => {
    const pairs = [
      { question: 'Where does Alice live?', context: 'Alice Smith lives in Paris since 2020.' },
      { question: 'Who lives in Paris?', context: 'Alice Smith lives in Paris since 2020.' },
    ];
    const response = await infer('qa', {
      inputs: [
        bytes(
          'question',
          pairs.map((p) => p.question),
        ),
        bytes(
          'context',
          pairs.map((p) => p.context),
        ),
      ],
    });
    const expected = await Promise.all(pairs.map((p) => hf('qa', { inputs: p })));
    assert.deepEqual(answers(response), expected);
    assert.deepEqual(
      output(response, 'answer').data,
      expected.map((e) => (e as { answer: string }).answer),
    );
    assert.equal(output(response, 'answer').data[0], 'Paris');
  });

  it('feature-extraction: an FP32 [n, dims] embedding; sentence-similarity: [n, m]', async () => {
    const texts = ['A cat sits on the mat', 'Stocks fell sharply'];
    const response = await infer('embeddings', {
      inputs: [bytes('text', texts)],
      outputs: [{ name: 'embedding' }],
    });
    const vectors = (await hf('embeddings', { inputs: texts })) as number[][];
    const dims = vectors[0]?.length ?? 0;
    assert.ok(dims > 0, 'the model gives vectors');
    assert.deepEqual(response.outputs, [
      { name: 'embedding', datatype: 'FP32', shape: [2, dims], data: vectors.flat() },
    ]);

    const sentences = ['My kitten sleeps', 'The stock market fell'];
    const similarity = await infer('embeddings', {
      inputs: [bytes('source_sentence', ['A cat sits on the mat']), bytes('sentences', sentences)],
    });
    const scores = await hf('embeddings', {
      inputs: { source_sentence: 'A cat sits on the mat', sentences },
    });
    assert.deepEqual(output(similarity, 'similarity'), {
      name: 'similarity',
      datatype: 'FP32',
      shape: [1, 2],
      data: scores,
    });
  });

  it('text-generation and translation: generated_text per input, task parameters from the request', async () => {
    const prompts = ['Once upon a', 'The cat'];
    const response = await infer('gpt2', {
      // content_type is KServe's own parameter, not the task's: dropped.
      parameters: { max_new_tokens: 5, content_type: 'str' },
      inputs: [bytes('text', prompts)],
    });
    const expected = (await hf('gpt2', { inputs: prompts, parameters: { max_new_tokens: 5 } })) as {
      generated_text: string;
    }[][];
    assert.deepEqual(answers(response), expected);
    assert.deepEqual(
      output(response, 'generated_text').data,
      expected.map((e) => e[0]?.generated_text),
    );

    const translated = await infer('translate/versions/1', {
      inputs: [bytes('text', ['The cat drinks water'])],
    });
    assert.equal(translated.model_version, '1');
    const [expectedTranslation] = (await hf('translate', { inputs: ['The cat drinks water'] })) as {
      translation_text: string;
    }[];
    assert.deepEqual(output(translated, 'generated_text').data, [expectedTranslation?.translation_text]);
  });

  it('returns only the outputs asked for, in their order', async () => {
    const response = await infer('sentiment', {
      inputs: [bytes('text', ['I love this wonderful film'])],
      outputs: [{ name: 'score' }, { name: 'label' }],
    });
    assert.deepEqual(
      response.outputs.map((o) => o.name),
      ['score', 'label'],
    );
    assert.ok(response.id.length > 0, 'an id is made up when the request has none');
  });
});

describe('KServe v2: errors', () => {
  const text = [bytes('text', ['I love this'])];
  const cases: [string, string, unknown, number, RegExp][] = [
    ['an unknown model', 'nope', { inputs: text }, 404, /no model named "nope"/],
    ['an unknown version', 'sentiment/versions/9', { inputs: text }, 404, /no version "9"/],
    [
      'a datatype other than BYTES',
      'sentiment',
      { inputs: [{ name: 'text', shape: [1], datatype: 'FP32', data: [1] }] },
      400,
      /"text" is FP32/,
    ],
    [
      'an unknown datatype',
      'sentiment',
      { inputs: [{ name: 'text', shape: [1], datatype: 'STRING', data: ['a'] }] },
      400,
      /invalid inference request: \/inputs\/0\/datatype/,
    ],
    [
      'a shape that does not match the data',
      'sentiment',
      { inputs: [bytes('text', ['a', 'b'], [3])] },
      400,
      /shape \[3\] \(3 elements\) but 2 data elements/,
    ],
    [
      'a BYTES element that is not a string',
      'sentiment',
      { inputs: [bytes('text', ['a', 2])] },
      400,
      /BYTES elements must be JSON strings/,
    ],
    [
      'a missing input tensor',
      'qa',
      { inputs: [bytes('question', ['Where?'])] },
      400,
      /missing input tensor\(s\) context/,
    ],
    [
      'an input tensor the task does not take',
      'sentiment',
      { inputs: [bytes('prompt', ['a'])] },
      400,
      /unknown input tensor\(s\) prompt/,
    ],
    [
      'text and text_pair of different lengths',
      'nli',
      { inputs: [bytes('text', ['a', 'b']), bytes('text_pair', ['c'])] },
      400,
      /as many elements/,
    ],
    ['no inputs', 'sentiment', { inputs: [] }, 400, /invalid inference request: \/inputs/],
    [
      'an unknown output',
      'sentiment',
      { inputs: text, outputs: [{ name: 'logits' }] },
      400,
      /unknown output tensor "logits"/,
    ],
    [
      'a parameter the task does not take',
      'sentiment',
      { inputs: text, parameters: { temperature: 1 } },
      400,
      /unknown parameter\(s\) temperature/,
    ],
    [
      'an input tensor given twice',
      'sentiment',
      { inputs: [...text, ...text] },
      400,
      /"text" is given twice/,
    ],
    ['an empty input tensor', 'sentiment', { inputs: [bytes('text', [])] }, 400, /"text" has no elements/],
    [
      'a typed output these answers do not have',
      'sentiment',
      { inputs: text, parameters: { split: 'sentence' }, outputs: [{ name: 'label' }] },
      400,
      /output tensor "label" is not available/,
    ],
    ['invalid JSON', 'sentiment', '{"inputs": [', 400, /not valid JSON/],
    [
      'a body over the size limit',
      'sentiment',
      `{"inputs": "${'x'.repeat(2 * 1024 * 1024)}"}`,
      413,
      /too large/,
    ],
  ];
  for (const [what, model, body, status, pattern] of cases) {
    it(`answers ${status} for ${what}`, async () => {
      assertV2Error(await server.post(`/v2/models/${model}/infer`, body), status, pattern);
    });
  }

  it('keeps the server error contract on other routes', async () => {
    const response = await server.post('/models/sentiment', '{"inputs": [');
    assert.equal(response.status, 400);
    assert.equal(
      (response.body as { error: { code: string } }).error.code,
      'invalid_request',
      JSON.stringify(response.body),
    );
  });
});

describe('KServe v2: versions from the Hub, and models that are not ready', () => {
  const REPO = 'hubserve-test/tiny-sentiment';
  let hub: MockHub;
  let hubServer: TestServer;

  before(async () => {
    mock.method(console, 'debug', () => undefined); // @huggingface/hub logs each file it downloads
    hub = await startMockHub({ repos: { [REPO]: { dir: testModelPath(REPO) } } });
    closing.push(hub);
    const cacheDir = mkdtempSync(join(tmpdir(), 'hubserve-e2e-kserve-'));
    temps.push(cacheDir);
    hubServer = await serve(
      [
        { name: REPO, source: REPO },
        { name: 'broken', source: join(cacheDir, 'no-such-model') },
      ],
      { hub: { endpoint: hub.url, cacheDir, offline: false, token: undefined } },
    );
    closing.push(hubServer);
  });

  it('accepts "1", the revision and the commit as versions of a Hub model', async () => {
    const commit = hub.sha(REPO);
    const metadata = await get(`/v2/models/${REPO}`, hubServer);
    assert.equal(metadata.status, 200, JSON.stringify(metadata.body));
    assert.deepEqual((metadata.body as { versions: string[] }).versions, ['1', 'main', commit]);
    for (const version of ['1', 'main', commit]) {
      const response = await infer(
        `${REPO}/versions/${version}`,
        { inputs: [bytes('text', ['I love this'])] },
        hubServer,
      );
      assert.equal(response.model_name, REPO);
      assert.equal(response.model_version, version);
      assert.deepEqual(output(response, 'label').data, ['POSITIVE']);
    }
    assertV2Error(await get(`/v2/models/${REPO}/versions/${'0'.repeat(40)}`, hubServer), 404, /no version/);
  });

  it('answers 503 while a model is not ready', async () => {
    assert.deepEqual(await get('/v2/health/ready', hubServer), { status: 503, body: { ready: false } });
    assert.deepEqual(await get('/v2/models/broken/ready', hubServer), {
      status: 503,
      body: { name: 'broken', ready: false },
    });
    assertV2Error(
      await hubServer.post('/v2/models/broken/infer', { inputs: [bytes('text', ['a'])] }),
      503,
      /model "broken" is failed/,
    );
    assertV2Error(await get('/v2/models/broken', hubServer), 503, /model "broken" is failed/);
  });
});
