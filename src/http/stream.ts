// Server-Sent Events: the stream every streaming route writes (TGI's /generate_stream format here,
// OpenAI's chunks in ./openai), opened on the first event so that an error before it is still an
// ordinary JSON error.
import type { FastifyReply } from 'fastify';
import { isServeError } from '../errors.ts';
import type { StreamedToken } from '../tasks/types.ts';

export interface EventStream {
  /** Whether the stream is open (errors must then be events too). */
  readonly started: boolean;
  /** Sends the headers now (without an event). */
  open(): void;
  /** Sends `data:<payload>`: JSON, or a raw string such as OpenAI's [DONE]. */
  send(data: unknown): void;
  end(): void;
}

/** `field` is how each event begins: TGI writes `data:`, OpenAI `data: ` (both are valid SSE). */
export function eventStream(reply: FastifyReply, field = 'data:'): EventStream {
  const raw = reply.raw;
  const open = (): void => {
    if (raw.headersSent) return;
    reply.hijack();
    // Headers set on the reply (X-Request-Id, X-Hubserve-Task, ...) go out with the stream.
    for (const [name, value] of Object.entries(reply.getHeaders()))
      if (value !== undefined) raw.setHeader(name, value);
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
  };
  return {
    get started() {
      return raw.headersSent;
    },
    open,
    send(data) {
      open();
      if (!raw.writableEnded)
        raw.write(`${field}${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
    },
    end() {
      open();
      raw.end();
    },
  };
}

interface Final {
  generated_text: string;
  details?: { finish_reason: string; generated_tokens: number; seed?: number };
}

/**
 * Streams a generation in TGI's format, one event per token, the last one also carrying the whole
 * text and details (what @huggingface/inference's textGenerationStream reads). `run` starts it with
 * a token callback and resolves to the task's answer. Errors before the first event are left to the
 * caller; after it, they become an `error` event.
 */
export async function streamGeneration(
  reply: FastifyReply,
  run: (onToken: (token: StreamedToken) => void) => Promise<unknown>,
): Promise<void> {
  const events = eventStream(reply);
  let index = 0;
  let held: StreamedToken | undefined;
  const event = (token: StreamedToken, final?: Final) => ({
    index: ++index,
    token: { id: token.id, text: token.text, logprob: null, special: token.special },
    generated_text: final?.generated_text ?? null,
    details: final?.details ?? null,
    top_tokens: null,
  });
  let output: unknown;
  try {
    // A token is held back until the next one comes, so that the last event can carry the answer.
    output = await run((token) => {
      events.open();
      if (held) events.send(event(held));
      held = token;
    });
  } catch (error) {
    if (!events.started) throw error; // nothing sent yet: an ordinary JSON error
    const code = isServeError(error) ? error.code : 'internal';
    events.send({ error: isServeError(error) ? error.message : 'internal error', error_type: code });
    events.end();
    return;
  }
  // A one-prompt array answers [[...]]: its answer is the inner one.
  const [first] = output as (Final | Final[])[];
  const final = Array.isArray(first) ? first[0] : first;
  const last = held ?? { id: -1, text: '', special: true };
  events.send(event(last, final ?? { generated_text: '' }));
  events.end();
}
