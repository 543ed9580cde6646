// The OpenAI-compatible routes through the official `openai` npm client, pointed at a real server.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI, { NotFoundError, BadRequestError } from 'openai';
import { serve, type TestServer, tiny } from '../support/server.ts';

let server: TestServer;
let openai: OpenAI;

before(async () => {
  server = await serve([
    tiny('gpt2', 'hubserve-test/tiny-gpt2'),
    tiny('embeddings', 'hubserve-test/tiny-embeddings'),
    tiny('sentiment', 'hubserve-test/tiny-sentiment'),
  ]);
  openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
after(() => server.close());

/** What POST /models/{name} answers, to compare the OpenAI routes with. */
const native = async (name: string, body: unknown): Promise<unknown> => {
  const response = await server.post(`/models/${name}`, body);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body;
};

describe('models', () => {
  it('lists the served models and describes one', async () => {
    const ids = [];
    for await (const model of openai.models.list()) ids.push(model.id);
    assert.deepEqual(ids.sort(), ['embeddings', 'gpt2', 'sentiment']);
    const model = await openai.models.retrieve('gpt2');
    assert.equal(model.owned_by, 'hubserve');
    await assert.rejects(openai.models.retrieve('nope'), NotFoundError);
  });
});

describe('embeddings', () => {
  const texts = ['A cat sits on the mat', 'The stock market fell today'];

  it('answers the vectors POST /models/{name} computes, in base64 (the client default) and floats', async () => {
    const expected = (await native('embeddings', { inputs: texts })) as number[][];
    const viaBase64 = await openai.embeddings.create({ model: 'embeddings', input: texts });
    const viaFloat = await openai.embeddings.create({
      model: 'embeddings',
      input: texts,
      encoding_format: 'float',
    });
    for (const response of [viaBase64, viaFloat]) {
      assert.equal(response.data.length, 2);
      response.data.forEach((d, i) => {
        assert.equal(d.index, i);
        const want = expected[i] as number[];
        assert.equal(d.embedding.length, want.length);
        d.embedding.forEach((x, k) => assert.ok(Math.abs(x - (want[k] ?? NaN)) < 1e-6, `dim ${k}: ${x}`));
      });
      assert.ok(
        response.usage.prompt_tokens > texts.length,
        `real token counts: ${response.usage.prompt_tokens}`,
      );
      assert.equal(response.usage.total_tokens, response.usage.prompt_tokens);
    }
  });

  it('counts the tokens of each request apart when requests share a batch', async () => {
    const one = await openai.embeddings.create({
      model: 'embeddings',
      input: 'cat',
      encoding_format: 'float',
    });
    const many = await Promise.all(
      Array.from({ length: 8 }, () =>
        openai.embeddings.create({ model: 'embeddings', input: 'cat', encoding_format: 'float' }),
      ),
    );
    for (const r of many) assert.equal(r.usage.prompt_tokens, one.usage.prompt_tokens);
  });

  it('shortens to the asked dimensions, renormalized', async () => {
    const response = await openai.embeddings.create({
      model: 'embeddings',
      input: 'A cat sits on the mat',
      dimensions: 16,
      encoding_format: 'float',
    });
    const [vector] = response.data.map((d) => d.embedding);
    assert.equal(vector?.length, 16);
    assert.ok(Math.abs(Math.hypot(...(vector ?? [])) - 1) < 1e-5, 'unit length');
    await assert.rejects(
      openai.embeddings.create({ model: 'embeddings', input: 'cat', dimensions: 100_000 }),
      (error: unknown) => error instanceof BadRequestError && error.param === 'dimensions',
    );
  });

  it('refuses a model that does not embed, and token ids', async () => {
    await assert.rejects(
      openai.embeddings.create({ model: 'gpt2', input: 'cat' }),
      (error: unknown) => error instanceof BadRequestError && error.code === 'task_not_supported',
    );
    await assert.rejects(
      openai.embeddings.create({ model: 'embeddings', input: [1, 2, 3] }),
      (error: unknown) => error instanceof BadRequestError && error.param === 'input',
    );
  });
});

describe('chat completions', () => {
  const messages = [{ role: 'user' as const, content: 'Once upon a' }];

  it('answers what the model generates from its chat template, with real usage', async () => {
    const expected = (await native('gpt2', {
      inputs: messages,
      parameters: { max_new_tokens: 12, details: true },
    })) as { generated_text: string; details: { generated_tokens: number; finish_reason: string } }[];
    const response = await openai.chat.completions.create({ model: 'gpt2', messages, max_tokens: 12 });
    const [choice] = response.choices;
    assert.equal(response.object, 'chat.completion');
    assert.equal(choice?.message.role, 'assistant');
    assert.equal(choice?.message.content, expected[0]?.generated_text);
    assert.equal(choice?.finish_reason, expected[0]?.details.finish_reason === 'length' ? 'length' : 'stop');
    const usage = response.usage;
    assert.ok(usage && usage.prompt_tokens > 0, `prompt tokens: ${usage?.prompt_tokens}`);
    assert.ok(usage.completion_tokens >= (expected[0]?.details.generated_tokens ?? 0), 'completion tokens');
    assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
  });

  it('streams chunks that arrive before the end and add up to the answer', async () => {
    const whole = await openai.chat.completions.create({ model: 'gpt2', messages, max_tokens: 16 });
    const stream = await openai.chat.completions.create({
      model: 'gpt2',
      messages,
      max_tokens: 16,
      stream: true,
      stream_options: { include_usage: true },
    });
    const arrivals: number[] = [];
    let text = '';
    let finish: string | null = null;
    let usage;
    for await (const chunk of stream) {
      arrivals.push(performance.now());
      if (chunk.usage) usage = chunk.usage;
      const [choice] = chunk.choices;
      text += choice?.delta.content ?? '';
      finish = choice?.finish_reason ?? finish;
    }
    assert.ok(arrivals.length > 3, `${arrivals.length} chunks`);
    assert.ok((arrivals.at(-1) ?? 0) > (arrivals[1] ?? 0), 'chunks arrive over time, not all at the end');
    assert.equal(text, whole.choices[0]?.message.content);
    assert.equal(finish, whole.choices[0]?.finish_reason);
    assert.deepEqual(usage, whole.usage);
  });

  it('stops at a stop sequence, streamed or not, without sending it', async () => {
    const free = await openai.chat.completions.create({ model: 'gpt2', messages, max_tokens: 16 });
    const content = free.choices[0]?.message.content ?? '';
    const stop = content.trim().split(' ')[2];
    assert.ok(stop, `a word to stop at in ${JSON.stringify(content)}`);
    const cut = content.slice(0, content.indexOf(stop));
    const whole = await openai.chat.completions.create({ model: 'gpt2', messages, max_tokens: 16, stop });
    assert.equal(whole.choices[0]?.message.content, cut);
    assert.equal(whole.choices[0]?.finish_reason, 'stop');
    const stream = await openai.chat.completions.create({
      model: 'gpt2',
      messages,
      max_tokens: 16,
      stop: [stop],
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    assert.equal(text, cut);
  });

  it('samples reproducibly with a seed', async () => {
    const ask = () =>
      openai.chat.completions.create({ model: 'gpt2', messages, max_tokens: 12, temperature: 1.5, seed: 7 });
    const [a, b] = await Promise.all([ask(), ask()]);
    assert.equal(a.choices[0]?.message.content, b.choices[0]?.message.content);
  });

  it('errors in OpenAI shape: unknown model, wrong model kind, what is not supported', async () => {
    await assert.rejects(
      openai.chat.completions.create({ model: 'nope', messages }),
      (error: unknown) =>
        error instanceof NotFoundError && error.code === 'model_not_found' && error.param === 'model',
    );
    await assert.rejects(
      openai.chat.completions.create({ model: 'sentiment', messages }),
      (error: unknown) => error instanceof BadRequestError && error.code === 'task_not_supported',
    );
    await assert.rejects(
      openai.chat.completions.create({ model: 'gpt2', messages, n: 2 }),
      (error: unknown) => error instanceof BadRequestError && error.param === 'n',
    );
    await assert.rejects(
      openai.chat.completions.create({ model: 'gpt2', messages, temperature: 7 }),
      (error: unknown) => error instanceof BadRequestError && error.param === 'temperature',
    );
    const raw = await server.post('/v1/chat/completions', '{"model": "gpt2", "messages": [');
    assert.equal(raw.status, 400);
    const body = raw.body as { error: { type: string; message: string } };
    assert.equal(body.error.type, 'invalid_request_error', JSON.stringify(body));
    const missing = await fetch(`${server.url}/v1/nothing`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { type: string } }).error.type, 'invalid_request_error');
  });
});

describe('completions', () => {
  it('continues prompts, one choice each, as the native route does', async () => {
    const prompts = ['Once upon a', 'The cat'];
    const expected = (await native('gpt2', { inputs: prompts, parameters: { max_new_tokens: 10 } })) as {
      generated_text: string;
    }[][];
    const response = await openai.completions.create({ model: 'gpt2', prompt: prompts, max_tokens: 10 });
    assert.equal(response.object, 'text_completion');
    assert.deepEqual(
      response.choices.map((c) => c.text),
      expected.map((e) => e[0]?.generated_text),
    );
    assert.ok((response.usage?.completion_tokens ?? 0) > 0, 'completion tokens counted');
    const echoed = await openai.completions.create({
      model: 'gpt2',
      prompt: 'The cat',
      max_tokens: 10,
      echo: true,
    });
    assert.equal(echoed.choices[0]?.text, `The cat${expected[1]?.[0]?.generated_text}`);
  });

  it('streams a one-prompt array with its finish reason, and refuses echo with stream', async () => {
    const whole = await openai.completions.create({ model: 'gpt2', prompt: ['Once upon a'], max_tokens: 6 });
    const stream = await openai.completions.create({
      model: 'gpt2',
      prompt: ['Once upon a'],
      max_tokens: 6,
      stream: true,
    });
    let text = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(text, whole.choices[0]?.text);
    assert.equal(finish, whole.choices[0]?.finish_reason);
    await assert.rejects(
      openai.completions.create({ model: 'gpt2', prompt: 'Once', echo: true, stream: true }),
      (error: unknown) => error instanceof BadRequestError && error.param === 'echo',
    );
  });

  it('streams', async () => {
    const whole = await openai.completions.create({ model: 'gpt2', prompt: 'Once upon a', max_tokens: 12 });
    const stream = await openai.completions.create({
      model: 'gpt2',
      prompt: 'Once upon a',
      max_tokens: 12,
      stream: true,
    });
    let text = '';
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.text ?? '';
    }
    assert.ok(chunks > 3, `${chunks} chunks`);
    assert.equal(text, whole.choices[0]?.text);
  });
});
