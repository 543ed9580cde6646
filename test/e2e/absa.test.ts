// The custom-handler example: aspect-based sentiment through a handler module, over HTTP.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { serve, type TestServer, tiny } from '../support/server.ts';

let server: TestServer;
before(async () => {
  server = await serve([tiny('absa', 'hubserve-test/tiny-absa', { handler: 'examples/absa/handler.ts' })]);
});
after(() => server.close());

interface SentenceResult {
  text: string;
  start: number;
  end: number;
  aspects: Record<string, { sentiment: string; score: number }>;
}

it('answers aspect -> sentiment per sentence, leaving out aspects not talked about', async () => {
  const text =
    'The food was great but the service was terribly slow. The waiter was not friendly. Too expensive!';
  const response = await server.post('/models/absa', { inputs: text });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  assert.equal(response.headers.get('x-hubserve-task'), 'aspect-sentiment');
  const sentences = response.body as SentenceResult[];
  assert.deepEqual(
    sentences.map((s) => [
      text.slice(s.start, s.end),
      Object.fromEntries(Object.entries(s.aspects).map(([a, v]) => [a, v.sentiment])),
    ]),
    [
      ['The food was great but the service was terribly slow.', { food: 'positive', service: 'negative' }],
      ['The waiter was not friendly.', { service: 'negative' }],
      ['Too expensive!', { price: 'negative' }],
    ],
  );
});

it('validates requests with the handler schema and lists the model under its handler task', async () => {
  const bad = await server.post('/models/absa', { inputs: 'Nice food', parameters: { aspects: [] } });
  assert.equal(bad.status, 400);
  assert.equal((bad.body as { error: { code: string } }).error.code, 'invalid_request');
  const custom = await server.post('/models/absa', {
    inputs: ['I love the pizza.', 'Nice staff.'],
    parameters: { aspects: ['food', 'service'] },
  });
  assert.deepEqual(
    (custom.body as SentenceResult[][]).map((list) => list.map((s) => Object.keys(s.aspects))),
    [[['food']], [['service']]],
  );
  const model = await fetch(`${server.url}/models/absa`).then(
    (r) => r.json() as Promise<{ task: string; state: string }>,
  );
  assert.deepEqual([model.task, model.state], ['aspect-sentiment', 'ready']);
});
