// The HTTP application: Fastify with the error contract, strict JSON, OpenAPI and the route plugins.
// It knows models only through the registry, never ONNX.
import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyServerOptions,
  LogController,
} from 'fastify';
import type { Keyring } from '../auth/keys.ts';
import { ServeError } from '../errors.ts';
import type { Registry } from '../registry/registry.ts';
import { registerAuth } from './auth.ts';
import { answerMalformedHttp, formatFor, frameworkError, registerErrorHandling } from './errors.ts';
import { conversationRoutes } from './conversation.ts';
import { registerDrain } from './drain.ts';
import { healthRoutes } from './health.ts';
import { inferenceRoutes } from './inference.ts';
import { kserveRoutes } from './kserve.ts';
import { Metrics, metricsRoutes } from './metrics.ts';
import { registerObservation, requestId } from './observe.ts';
import { modelRoutes } from './models.ts';
import { sessionRoutes } from './sessions.ts';
import { openaiRoutes } from './openai/index.ts';
import { playgroundRoutes } from './playground.ts';

export interface AppOptions {
  registry: Registry;
  /** API keys; without them every route is open (a loopback server, or one started --insecure). */
  keyring?: Keyring;
  maxBodyBytes: number;
  /** Put request bodies in the log lines (off: user text never reaches the logs). */
  logInputs?: boolean;
  /** Origins browsers may call from; empty: no CORS headers at all. */
  corsOrigins?: string[];
  /** Messages one conversation socket may have in flight. */
  maxInFlightPerConnection: number;
  logger?: FastifyServerOptions['logger'];
  version?: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Fastify as every hubserve port speaks it: JSON only (valid UTF-8), the error contract for every
 * failure including malformed HTTP, request ids, and one log line per request at most.
 */
export function baseApp(options: {
  maxBodyBytes: number;
  logger?: FastifyServerOptions['logger'];
}): FastifyInstance {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.maxBodyBytes,
    // One line per request, written when it ends (./observe.ts), instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    // While shutting down, requests still arriving on open connections are served (the registry
    // fails them with a JSON 503 once the deadline passes) rather than answered with Fastify's own 503.
    return503OnClosing: false,
    requestIdHeader: false,
    genReqId: requestId,
    // Model names may be 200 characters (config schema); Fastify's default segment limit is 100.
    routerOptions: { maxParamLength: 256 },
    frameworkErrors: (error, request, reply) => {
      const format = formatFor(request.url);
      // The reply type here is generic over no route; it is an ordinary reply.
      void (reply as unknown as FastifyReply)
        .status(400)
        .send(format(frameworkError(error), 400, request.id));
    },
    // HTTP that Node cannot parse: answered in the contract's words (its URL may be unreadable).
    clientErrorHandler: answerMalformedHttp,
  });
  // Only JSON is spoken: other content types get 415 unsupported_media_type.
  app.removeAllContentTypeParsers();
  // JSON that is not valid UTF-8 is refused rather than silently repaired with U+FFFD.
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body: Buffer, done) => {
    let text: string;
    try {
      text = utf8.decode(body);
    } catch {
      done(new ServeError('invalid_request', 'the body is not valid UTF-8'), undefined);
      return;
    }
    if (!text.trim()) {
      done(
        new ServeError('invalid_request', 'the body is empty; send a JSON object with "inputs"'),
        undefined,
      );
      return;
    }
    try {
      done(null, JSON.parse(text));
    } catch (error) {
      done(
        new ServeError('invalid_request', `the body is not valid JSON: ${(error as Error).message}`),
        undefined,
      );
    }
  });
  registerErrorHandling(app);
  return app;
}

/** OpenAPI for an app; served at /openapi.json and, as Swagger UI, at /docs. */
export async function registerDocs(
  app: FastifyInstance,
  info: { title: string; version: string; description: string },
  tags: { name: string; description?: string }[],
): Promise<void> {
  await app.register(swagger, {
    openapi: { info, tags },
    // Components keep their $id as their name (ErrorResponse, Model) instead of def-N.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true }, config: { scope: 'public' } }, async () =>
    app.swagger(),
  );
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = baseApp(options);
  // Observed first, so that requests refused by auth are logged too.
  const metrics = new Metrics(options.registry);
  registerObservation(app, metrics, { logInputs: options.logInputs === true });
  registerDrain(app);
  // Before auth, so that refusals (401, 403, 429) carry CORS headers a browser can read.
  if (options.corsOrigins?.length) {
    await app.register(cors, {
      origin: options.corsOrigins.includes('*') ? '*' : options.corsOrigins,
      allowedHeaders: ['Authorization', 'Content-Type', 'X-Request-Id', 'X-Session-Id', 'X-User-Id'],
      exposedHeaders: [
        'X-Request-Id',
        'Server-Timing',
        'X-Hubserve-Task',
        'X-Hubserve-Version',
        'Retry-After',
      ],
      maxAge: 600,
    });
  }
  registerAuth(app, options.keyring);
  await registerDocs(
    app,
    {
      title: 'hubserve',
      version: options.version ?? '0.0.0',
      description: 'Hugging Face Hub NLP models behind the Hugging Face Inference API shapes.',
    },
    [
      { name: 'inference' },
      { name: 'models' },
      { name: 'health' },
      { name: 'sessions', description: 'Hold a model loaded for a user or a job' },
      { name: 'openai', description: 'OpenAI-compatible routes' },
      { name: 'kserve', description: 'KServe Open Inference Protocol v2' },
    ],
  );
  await app.register(healthRoutes, { registry: options.registry });
  await app.register(modelRoutes, { registry: options.registry });
  await app.register(metricsRoutes, { metrics });
  await app.register(inferenceRoutes, { registry: options.registry });
  await app.register(sessionRoutes, { registry: options.registry });
  await app.register(conversationRoutes, {
    registry: options.registry,
    maxMessageBytes: options.maxBodyBytes,
    maxInFlight: options.maxInFlightPerConnection,
  });
  await app.register(openaiRoutes, { prefix: '/v1', registry: options.registry });
  await app.register(kserveRoutes, {
    registry: options.registry,
    version: options.version ?? '0.0.0',
  });
  await app.register(playgroundRoutes);
  return app;
}
