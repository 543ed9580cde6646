// Server-Sent Events in the format of Hugging Face TGI's /generate_stream: one event per token, the
// last one also carrying the whole generated text and details. What @huggingface/inference's
// textGenerationStream and TGI clients read.
import type { FastifyReply } from 'fastify';
import { isServeError } from '../errors.ts';
import type { StreamedToken } from '../tasks/types.ts';

interface Final {
  generated_text: string;
  details?: { finish_reason: string; generated_tokens: number; seed?: number };
}

/**
 * Streams a generation: `run` starts it with a token callback and resolves to the task's answer.
 * Errors before the first byte are left to the caller; after it, they become an `error` event.
 */
export async function streamGeneration(
  reply: FastifyReply,
  run: (onToken: (token: StreamedToken) => void) => Promise<unknown>,
): Promise<void> {
  const raw = reply.raw;
  let index = 0;
  let held: StreamedToken | undefined;
  const send = (data: unknown): void => {
    if (!raw.writableEnded) raw.write(`data:${JSON.stringify(data)}\n\n`);
  };
  const event = (token: StreamedToken, final?: Final) => ({
    index: ++index,
    token: { id: token.id, text: token.text, logprob: null, special: token.special },
    generated_text: final?.generated_text ?? null,
    details: final?.details ?? null,
    top_tokens: null,
  });
  const open = (): void => {
    if (raw.headersSent) return;
    reply.hijack();
    // Headers set on the reply (X-Hubserve-Task, ...) go out with the stream.
    for (const [name, value] of Object.entries(reply.getHeaders()))
      if (value !== undefined) raw.setHeader(name, value);
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-request-id': reply.request.id,
    });
  };
  let output: unknown;
  try {
    // A token is held back until the next one comes, so that the last event can carry the answer.
    output = await run((token) => {
      open();
      if (held) send(event(held));
      held = token;
    });
  } catch (error) {
    if (!raw.headersSent) throw error; // nothing sent yet: an ordinary JSON error
    const code = isServeError(error) ? error.code : 'internal';
    send({ error: isServeError(error) ? error.message : 'internal error', error_type: code });
    raw.end();
    return;
  }
  open();
  const [final] = output as Final[];
  const last = held ?? { id: -1, text: '', special: true };
  send(event(last, final ?? { generated_text: '' }));
  raw.end();
}
