// What /v1/chat/completions and /v1/completions share: OpenAI's sampling fields mapped onto the
// text-generation task's parameters (refusing, by name, what hubserve cannot honour rather than
// ignoring it), and the run itself, whole or streamed as OpenAI chunks ending in [DONE].
import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import Type, { type Static, type TObject } from 'typebox';
import { isServeError, ServeError } from '../../errors.ts';
import type { Registry, RunReport } from '../../registry/registry.ts';
import { openaiFormat, STATUS } from '../errors.ts';
import { answer, prepare } from '../task-request.ts';
import { clientGone } from '../inference.ts';
import { recordInference } from '../observe.ts';
import { servedKey } from '../viewer.ts';
import { eventStream } from '../stream.ts';

const Stop = Type.Union([
  Type.String({ minLength: 1 }),
  Type.Array(Type.String({ minLength: 1 }), { maxItems: 4 }),
]);

/** Request fields of both routes (OpenAI's, plus top_k and repetition_penalty as vLLM accepts them). */
export const samplingFields = {
  model: Type.String(),
  max_tokens: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
  temperature: Type.Optional(
    Type.Union([
      Type.Number({ minimum: 0, maximum: 2, description: '0 (or absent): greedy decoding.' }),
      Type.Null(),
    ]),
  ),
  top_p: Type.Optional(Type.Union([Type.Number({ exclusiveMinimum: 0, maximum: 1 }), Type.Null()])),
  top_k: Type.Optional(Type.Integer({ minimum: 1 })),
  repetition_penalty: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 100 })),
  stop: Type.Optional(Type.Union([Stop, Type.Null()])),
  seed: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
  n: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
  stream: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  stream_options: Type.Optional(
    Type.Union([Type.Object({ include_usage: Type.Optional(Type.Boolean()) }), Type.Null()]),
  ),
  frequency_penalty: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
  presence_penalty: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
  logit_bias: Type.Optional(Type.Union([Type.Record(Type.String(), Type.Number()), Type.Null()])),
  logprobs: Type.Optional(Type.Union([Type.Boolean(), Type.Integer(), Type.Null()])),
  user: Type.Optional(Type.String()),
};

export type Sampling = Static<TObject<typeof samplingFields>> & { max_completion_tokens?: number | null };

const unsupported = (param: string, why: string): ServeError =>
  new ServeError('invalid_request', `${param}: ${why}`, { param });

/** The text-generation parameters for a request; what cannot be honoured is refused by name. */
export function generationParameters(body: Sampling): Record<string, unknown> {
  if ((body.n ?? 1) !== 1) throw unsupported('n', 'hubserve generates one choice per request');
  for (const penalty of ['frequency_penalty', 'presence_penalty'] as const) {
    if (body[penalty]) throw unsupported(penalty, 'not supported; use repetition_penalty');
  }
  if (body.logit_bias && Object.keys(body.logit_bias).length)
    throw unsupported('logit_bias', 'not supported');
  if (body.logprobs) throw unsupported('logprobs', 'not supported');
  const maxNew = body.max_completion_tokens ?? body.max_tokens;
  // Below 0.01 (the task's floor) sampling is greedy decoding anyway.
  const greedy = body.temperature == null || body.temperature < 0.01;
  const sample = !greedy || (body.temperature == null && (body.top_p != null || body.top_k !== undefined));
  const stop = body.stop == null ? undefined : Array.isArray(body.stop) ? body.stop : [body.stop];
  return {
    ...(maxNew != null ? { max_new_tokens: maxNew } : {}),
    do_sample: sample,
    ...(sample && body.temperature ? { temperature: body.temperature } : {}),
    ...(sample && body.top_p != null ? { top_p: body.top_p } : {}),
    ...(sample && body.top_k !== undefined ? { top_k: body.top_k } : {}),
    ...(body.repetition_penalty !== undefined ? { repetition_penalty: body.repetition_penalty } : {}),
    ...(stop?.length ? { stop } : {}),
    ...(body.seed != null ? { seed: body.seed } : {}),
    details: true,
  };
}

/** OpenAI's finish reasons for the task's. */
const finishReason = (reason: string | undefined): 'stop' | 'length' =>
  reason === 'length' ? 'length' : 'stop';

interface Generated {
  generated_text: string;
  details?: { finish_reason: string };
}

/** How one route words its answers: chat messages or completion texts. */
export interface Dialect {
  object: string;
  chunkObject: string;
  idPrefix: string;
  choice(text: string, finishReason: string | null, index: number): Record<string, unknown>;
  /** A streamed choice carrying `text`; `first` is the stream's first chunk. */
  delta(text: string, finishReason: string | null, first: boolean): Record<string, unknown>;
}

const usageOf = (usage: Pick<RunReport, 'inputTokens' | 'outputTokens'>) => ({
  prompt_tokens: usage.inputTokens,
  completion_tokens: usage.outputTokens,
  total_tokens: usage.inputTokens + usage.outputTokens,
});

/**
 * The longest end of `text` that could begin a stop sequence: held back while streaming, since the
 * answer is cut before a stop sequence and the chunks must add up to the answer.
 */
function pendingStop(text: string, stops: string[]): number {
  let hold = 0;
  for (const stop of stops) {
    for (let n = Math.min(stop.length - 1, text.length); n > hold; n--) {
      if (text.endsWith(stop.slice(0, n))) {
        hold = n;
        break;
      }
    }
  }
  return hold;
}

export interface Generation {
  registry: Registry;
  request: FastifyRequest;
  reply: FastifyReply;
  body: Sampling;
  /** The text-generation task's inputs: a prompt, prompts, or chat messages. */
  inputs: unknown;
  /** Task parameters beyond the sampling ones (return_full_text for echo). */
  extra?: Record<string, unknown>;
  dialect: Dialect;
}

/** Runs the request: the whole answer, or (stream: true) chunks as tokens come, then [DONE]. */
export async function generateResponse(generation: Generation): Promise<unknown> {
  const { registry, request, reply, body, dialect } = generation;
  const key = servedKey(request, registry, body.model);
  const record = recordInference(request, registry, key, 'text-generation');
  const parameters = { ...generationParameters(body), ...generation.extra };
  const stream = body.stream === true;
  const prepared = await prepare(
    registry,
    key,
    { inputs: generation.inputs, parameters, stream },
    'text-generation',
  );
  const id = `${dialect.idPrefix}-${randomUUID().replaceAll('-', '')}`;
  const created = Math.floor(Date.now() / 1000);
  const head = (object: string) => ({ id, object, created, model: body.model });
  const usage = () => usageOf(record.report ?? { inputTokens: 0, outputTokens: 0 });
  const options = { signal: clientGone(reply), onReport: record.onReport };
  if (!stream) {
    const output = (await answer(registry, prepared, options)) as (Generated | Generated[])[];
    const choices = output
      .map((g) => (Array.isArray(g) ? g[0] : g) as Generated)
      .map((g, i) => dialect.choice(g.generated_text, finishReason(g.details?.finish_reason), i));
    return { ...head(dialect.object), choices, usage: usage() };
  }
  const events = eventStream(reply, 'data: ');
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    events.send({ ...head(dialect.chunkObject), choices, ...extra });
  const stops = (parameters.stop as string[] | undefined) ?? [];
  let text = ''; // generated so far
  let sent = 0; // characters of it sent
  let first = true;
  const send = (upTo: number, finish: string | null): void => {
    if (upTo <= sent && !first && finish === null) return;
    chunk([dialect.delta(text.slice(sent, upTo), finish, first)]);
    sent = Math.max(sent, upTo);
    first = false;
  };
  let output: unknown;
  try {
    output = await answer(registry, prepared, {
      ...options,
      onToken: (token) => {
        text += token.text;
        const stopAt = Math.min(...stops.map((s) => text.indexOf(s)).filter((i) => i >= 0));
        send(Number.isFinite(stopAt) ? stopAt : text.length - pendingStop(text, stops), null);
      },
    });
  } catch (error) {
    if (!events.started) throw error; // nothing sent yet: an ordinary JSON error
    const failure = isServeError(error) ? error : new ServeError('internal', 'internal error');
    events.send(openaiFormat(failure, STATUS[failure.code] ?? 500, reply.request.id));
    events.send('[DONE]');
    events.end();
    return;
  }
  // A one-prompt array answers [[...]]: its answer is the inner one.
  const [answer0] = output as (Generated | Generated[])[];
  const final = Array.isArray(answer0) ? answer0[0] : answer0;
  // The answer is authoritative (cut before a stop sequence): send what the tokens have not.
  text = final?.generated_text ?? text;
  send(text.length, finishReason(final?.details?.finish_reason));
  if (body.stream_options?.include_usage) chunk([], { usage: usage() });
  events.send('[DONE]');
  events.end();
}
