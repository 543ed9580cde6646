// GET /conversation (WebSocket): a client sends utterances as they happen, {"id", "model", "inputs",
// "parameters"}, many at once, and gets each answer as soon as it is ready, tagged with its id:
// {"id", "result"} or {"id", "error": {"code", "message"}}; with "stream": true, {"id", "token"}
// messages come first. Bounded per connection; a bad message fails alone.
import websocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import { isServeError, ServeError } from '../errors.ts';
import type { Registry } from '../registry/registry.ts';
import { admitAnother } from './auth.ts';
import { errorBody } from './errors.ts';
import { answer, type InferenceBody, prepare } from './task-request.ts';
import { servedKey } from './viewer.ts';

export interface ConversationOptions {
  registry: Registry;
  /** Largest message, as the body limit of HTTP requests. */
  maxMessageBytes: number;
  /** Utterances in flight on one connection. */
  maxInFlight: number;
}

type MessageId = string | number;

interface Utterance extends InferenceBody {
  id: MessageId;
  model: string;
}

function parse(data: RawData, isBinary: boolean): Utterance {
  if (isBinary) throw new ServeError('invalid_request', 'send text messages of JSON');
  let message: unknown;
  try {
    message = JSON.parse(data.toString());
  } catch (error) {
    throw new ServeError('invalid_request', `the message is not valid JSON: ${(error as Error).message}`);
  }
  const m = message as Partial<Utterance> | null;
  if (!m || typeof m !== 'object' || Array.isArray(m))
    throw new ServeError('invalid_request', 'send a JSON object');
  if (typeof m.id !== 'string' && typeof m.id !== 'number') {
    throw new ServeError('invalid_request', '"id" (a string or number) tags each message and its answer');
  }
  if (typeof m.model !== 'string') throw new ServeError('invalid_request', '"model" names the model to run');
  if (!('inputs' in m)) throw new ServeError('invalid_request', '"inputs" is missing');
  if (m.parameters !== undefined && (typeof m.parameters !== 'object' || m.parameters === null)) {
    throw new ServeError('invalid_request', '"parameters" must be an object');
  }
  return m as Utterance;
}

const idOf = (data: RawData): MessageId | null => {
  try {
    const id = (JSON.parse(data.toString()) as { id?: unknown }).id;
    return typeof id === 'string' || typeof id === 'number' ? id : null;
  } catch {
    return null;
  }
};

export async function conversationRoutes(app: FastifyInstance, options: ConversationOptions): Promise<void> {
  const { registry, maxInFlight } = options;
  /** Open connections, each with its messages in flight. */
  const open = new Map<WebSocket, Map<MessageId, AbortController>>();
  let closing = false;
  /**
   * Once the server refuses new requests, a connection closes as soon as its messages are answered (the
   * shutdown deadline answers the rest): 1012, service restart, so the client reconnects elsewhere.
   */
  const closeWhenIdle = (socket: WebSocket): void => {
    if (closing && !open.get(socket)?.size) socket.close(1012, 'the server is restarting; reconnect');
  };
  const closeAll = (): void => {
    closing = true;
    for (const socket of open.keys()) closeWhenIdle(socket);
  };
  app.drain.onRefusing(closeAll);
  await app.register(websocket, {
    options: { maxPayload: options.maxMessageBytes },
    preClose(done) {
      closeAll();
      done();
    },
  });
  app.get(
    '/conversation',
    {
      websocket: true,
      schema: {
        summary: 'Conversation socket (WebSocket): send utterances, get each result as soon as it is ready',
        description:
          'Messages in: {"id", "model", "inputs", "parameters"?, "stream"?}. Out: {"id", "result"}, ' +
          `{"id", "error": {"code", "message"}}, and {"id", "token"} while streaming. At most ${maxInFlight} ` +
          'messages in flight per connection.',
        tags: ['inference'],
      },
    },
    (socket: WebSocket, request) => {
      const inFlight = new Map<MessageId, AbortController>();
      open.set(socket, inFlight);
      const send = (message: unknown): void => {
        if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
      };
      const fail = (id: MessageId | null, error: unknown): void => {
        const known = isServeError(error) ? error : new ServeError('internal', String(error));
        if (known.code === 'internal') request.log.error({ err: error }, 'conversation message failed');
        send({ id, ...errorBody(known, request.id) });
      };
      socket.on('message', (data: RawData, isBinary: boolean) => {
        let utterance: Utterance;
        try {
          if (closing)
            throw new ServeError('shutting_down', 'the server is shutting down; reconnect elsewhere');
          utterance = parse(data, isBinary);
          if (inFlight.has(utterance.id)) {
            throw new ServeError(
              'invalid_request',
              `message ${utterance.id} is still in flight; use a new id`,
            );
          }
          if (inFlight.size >= maxInFlight) {
            throw new ServeError(
              'overloaded',
              `${maxInFlight} messages are in flight on this connection; wait for answers`,
            );
          }
        } catch (error) {
          fail(isBinary ? null : idOf(data), error);
          return;
        }
        const { id } = utterance;
        const gone = new AbortController();
        inFlight.set(id, gone);
        void (async () => {
          try {
            admitAnother(request);
            const key = servedKey(request, registry, utterance.model);
            const prepared = await prepare(registry, key, utterance);
            const onToken = prepared.stream ? { onToken: (token: unknown) => send({ id, token }) } : {};
            const result = await answer(registry, prepared, { signal: gone.signal, ...onToken });
            send({ id, result });
          } catch (error) {
            fail(id, error);
          } finally {
            inFlight.delete(id);
            closeWhenIdle(socket);
          }
        })();
      });
      // A closed connection takes its waiting and generating work with it.
      socket.on('close', () => {
        open.delete(socket);
        for (const controller of inFlight.values()) controller.abort();
      });
    },
  );
}
