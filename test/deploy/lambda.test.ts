// The Lambda handler in-process, as its container image runs it: a model baked into an empty Hugging
// Face cache with `hubserve pull`'s code (from the mock Hub, which is then closed), the module imported
// offline with the image's environment, then real Function URL, HTTP API and REST API events and
// direct Invoke payloads. The first event is timed cold (import and model load included), then warm.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, mock } from 'node:test';
import { newKey } from '../../src/auth/keys.ts';
import { pullModels } from '../../src/hub/index.ts';
import type * as Lambda from '../../src/serverless/lambda.ts';
import type {
  HttpEventV1,
  HttpEventV2,
  HttpResultV1,
  HttpResultV2,
  InvokeResult,
  LambdaContext,
  LambdaEvent,
} from '../../src/serverless/events.ts';
import { testModelPath } from '../../tools/testmodels/index.ts';
import { startMockHub } from '../support/mock-hub.ts';

type Handler = (event: LambdaEvent, context?: LambdaContext) => Promise<unknown>;

const REPO = 'hubserve-test/tiny-sentiment';
const GPT2 = 'hubserve-test/tiny-gpt2';
const event = <T>(name: string): T =>
  JSON.parse(readFileSync(new URL(`./events/${name}.json`, import.meta.url), 'utf8')) as T;
const labelOf = (body: string | unknown): string | undefined =>
  ((typeof body === 'string' ? JSON.parse(body) : body) as { label: string }[][])[0]?.[0]?.label;

mock.method(console, 'debug', () => undefined); // @huggingface/hub logs each file it downloads

const cache = mkdtempSync(join(tmpdir(), 'hubserve-lambda-'));
const { key, hash } = newKey();
const saved = { ...process.env };
let lambda: typeof Lambda | undefined;
after(async () => {
  await lambda?.server.app.close();
  await lambda?.server.registry.dispose();
  process.env = saved;
  rmSync(cache, { recursive: true, force: true });
});

/** The image's environment (deploy/lambda/Dockerfile, template.yaml): baked cache, offline, keys. */
function imageEnvironment(extra: Record<string, string> = {}): void {
  process.env = Object.fromEntries(Object.entries(saved).filter(([name]) => !name.startsWith('HUBSERVE_')));
  Object.assign(process.env, {
    HF_HUB_CACHE: cache,
    HF_HUB_OFFLINE: '1',
    HUBSERVE_MODELS: `[{name: sentiment, source: ${REPO}, dtype: q8}, {name: gpt2, source: ${GPT2}}]`,
    HUBSERVE_LOG_LEVEL: 'silent',
    ...extra,
  });
}

describe('the Lambda handler', () => {
  let handler: Handler;
  let cold = 0;
  let init = 0;

  before(async () => {
    const hub = await startMockHub({
      repos: { [REPO]: { dir: testModelPath(REPO) }, [GPT2]: { dir: testModelPath(GPT2) } },
    });
    try {
      // As the image's build does: hubserve pull --dtype q8 sentiment, hubserve pull gpt2.
      const settings = {
        endpoint: hub.url,
        cacheDir: cache,
        convertedDir: join(cache, 'converted'),
        offline: false,
      };
      await pullModels([REPO], { dtype: 'q8', settings });
      await pullModels([GPT2], { dtype: 'fp32', settings });
    } finally {
      await hub.close(); // from here on, the cache is all there is
    }
    imageEnvironment({
      HUBSERVE_API_KEYS: `[{name: app, hash: "${hash}", scopes: [infer, metrics]}]`,
    });
    const started = performance.now();
    lambda = await import('../../src/serverless/lambda.ts');
    handler = lambda.handler;
    init = performance.now() - started;
    const first = (await handler(withKey(event<HttpEventV2>('function-url')))) as HttpResultV2;
    cold = performance.now() - started;
    assert.equal(first.statusCode, 200, `cold Function URL request: ${first.body}`);
  });

  const withKey = <T extends object>(request: T): T => ({
    ...request,
    headers: { ...(request as { headers?: object }).headers, authorization: `Bearer ${key}` },
  });

  it('answers a Function URL event (base64 body), cold then warm, loading the model once', async (t) => {
    const started = performance.now();
    const warm = (await handler(withKey(event<HttpEventV2>('function-url')), {
      awsRequestId: '0f5e4a3c-1d2b-4c6e-8f90-a1b2c3d4e5f6',
    })) as HttpResultV2;
    const warmMs = performance.now() - started;
    t.diagnostic(
      `Lambda cold: ${cold.toFixed(0)} ms (init, that is import under tsx and two models loaded: ` +
        `${init.toFixed(0)} ms; first event: ${(cold - init).toFixed(1)} ms)`,
    );
    t.diagnostic(`Lambda warm invocation: ${warmMs.toFixed(1)} ms`);
    assert.equal(warm.statusCode, 200, warm.body);
    assert.equal(warm.isBase64Encoded, false, 'JSON goes back as text');
    assert.equal(labelOf(warm.body), 'POSITIVE', 'the base64 body was decoded');
    assert.equal(warm.headers['x-request-id'], '0f5e4a3c-1d2b-4c6e-8f90-a1b2c3d4e5f6', "Lambda's id");
    assert.ok(warmMs < cold, `warm (${warmMs} ms) is faster than cold (${cold} ms)`);
    const listed = (await handler(withKey({ path: '/models/sentiment' }))) as InvokeResult;
    assert.equal((listed.body as { loads: number }).loads, 1, 'warm invocations reused the loaded model');
  });

  it('answers a REST API (payload 1.0) event with multi-value headers', async () => {
    const rest = event<HttpEventV1>('rest-api-v1');
    const answer = (await handler({
      ...rest,
      multiValueHeaders: { ...rest.multiValueHeaders, Authorization: [`Bearer ${key}`] },
    })) as HttpResultV1;
    assert.equal(answer.statusCode, 200, answer.body);
    assert.equal(labelOf(answer.body), 'NEGATIVE');
    assert.deepEqual(answer.multiValueHeaders['content-type'], ['application/json; charset=utf-8']);
  });

  it('answers an HTTP API (payload 2.0) event on the OpenAI routes', async () => {
    const answer = (await handler(withKey(event<HttpEventV2>('http-api-v2')))) as HttpResultV2;
    assert.equal(answer.statusCode, 200, answer.body);
    const { data } = JSON.parse(answer.body) as { data: { id: string }[] };
    assert.deepEqual(data.map((m) => m.id).sort(), ['gpt2', 'sentiment']);
  });

  it('refuses a request without a key as the server does: 401 with WWW-Authenticate', async () => {
    const answer = (await handler(event<HttpEventV2>('function-url'))) as HttpResultV2;
    assert.equal(answer.statusCode, 401, answer.body);
    assert.ok(answer.headers['www-authenticate'], 'the challenge header is passed on');
    assert.equal((JSON.parse(answer.body) as { error: { code: string } }).error.code, 'unauthorized');
  });

  it('answers direct Invoke payloads: a model request, any route, and a clear error otherwise', async () => {
    const run = (await handler(
      withKey({ model: 'sentiment', inputs: 'I love this wonderful film', parameters: { top_k: 1 } }),
    )) as InvokeResult;
    assert.equal(run.statusCode, 200, JSON.stringify(run.body));
    assert.equal(labelOf(run.body), 'POSITIVE', 'the body comes back parsed');
    const ready = (await handler({ method: 'GET', path: '/ready' })) as InvokeResult;
    assert.equal(ready.statusCode, 200, 'probes need no key, as on the server');
    const invalid = (await handler(withKey({ model: 'sentiment', inputs: 42 }))) as InvokeResult;
    assert.equal(invalid.statusCode, 400, "the route's validation applies");
    for (const bad of [{ hello: 'world' }, 'text', null] as unknown as LambdaEvent[]) {
      const answer = (await handler(bad)) as InvokeResult;
      assert.equal(answer.statusCode, 400, `payload ${JSON.stringify(bad)}`);
      assert.equal((answer.body as { error: { code: string } }).error.code, 'invalid_request');
    }
  });

  it('answers a streamed generation whole: its events arrive at once, at the end', async () => {
    const answer = (await handler(
      withKey({ model: 'gpt2', inputs: 'Once upon a', stream: true, parameters: { max_new_tokens: 3 } }),
    )) as InvokeResult;
    assert.equal(answer.statusCode, 200, JSON.stringify(answer.body));
    assert.match(answer.headers['content-type'] ?? '', /^text\/event-stream/);
    const events = String(answer.body)
      .split('\n')
      .filter((line) => line.startsWith('data:'));
    assert.equal(events.length, 3, `one event per token, all in one body: ${String(answer.body)}`);
    assert.match(events.at(-1) ?? '', /"generated_text":" time there was"/);
  });

  it('refuses to start without API keys unless told HUBSERVE_INSECURE', async () => {
    imageEnvironment();
    const fresh = '../../src/serverless/lambda.ts?without-keys'; // a second instance of the module
    await assert.rejects(import(fresh), /refusing to serve Lambda events without API keys/);
  });
});
