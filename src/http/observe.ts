// What every request leaves behind: one JSON log line (request id, tenant, model, status, tokens,
// timings; the inputs only when log_inputs is on), the Prometheus metrics of inference requests, a Server-Timing header on
// inference answers, and its request id in X-Request-Id (the client's own, when it sends a sane one).
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Registry, RunReport } from '../registry/registry.ts';
import type { Metrics } from './metrics.ts';

/** A request's run on a model, filled in as it goes. */
export class InferenceRecord {
  report?: RunReport;

  constructor(
    readonly model: string,
    /** The model's task until the request's own is known. */
    public task: string,
  ) {}

  /**
   * For SubmitOptions.onReport. A request a route runs as several (KServe elements) adds their tokens;
   * its timings are the slowest run's, as they ran side by side.
   */
  readonly onReport = (report: RunReport): void => {
    const seen = this.report;
    this.report = seen
      ? {
          inputTokens: seen.inputTokens + report.inputTokens,
          outputTokens: seen.outputTokens + report.outputTokens,
          queueMs: Math.max(seen.queueMs, report.queueMs),
          tokenizeMs: Math.max(seen.tokenizeMs, report.tokenizeMs),
          inferenceMs: Math.max(seen.inferenceMs, report.inferenceMs),
          batchInputs: Math.max(seen.batchInputs, report.batchInputs),
        }
      : report;
  };
}

declare module 'fastify' {
  interface FastifyRequest {
    inference?: InferenceRecord;
  }
}

/**
 * Marks the request as one run on `model` (model_not_found for a name nobody serves, which is thus
 * never a label), for `task` or else the model's own.
 */
export function recordInference(
  request: FastifyRequest,
  registry: Registry,
  model: string,
  task?: string,
): InferenceRecord {
  const served = registry.get(model);
  request.inference = new InferenceRecord(served.label, task ?? served.task ?? 'none');
  return request.inference;
}

const SANE_ID = /^[\w.:-]{1,128}$/;

/** The client's X-Request-Id when it is short and plain (it goes into logs), else a new one. */
export const requestId = (request: IncomingMessage): string => {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && SANE_ID.test(given) ? given : randomUUID();
};

const ms = (value: number): number => Math.round(value * 100) / 100;

/** How much of a body a log line holds, when bodies are logged at all. */
const LOGGED_BODY_CHARS = 2_000;

export function registerObservation(
  app: FastifyInstance,
  metrics: Metrics,
  options: { logInputs: boolean },
): void {
  app.addHook('onRequest', async (request, reply) => {
    void reply.header('X-Request-Id', request.id);
    // 'close' comes for every answer, streamed ones and those whose client left included.
    reply.raw.once('close', () => {
      const status = reply.raw.writableFinished ? reply.raw.statusCode : 499; // 499: the client left
      const seconds = reply.elapsedTime / 1000;
      const record = request.inference;
      if (record) metrics.observe(record, status, seconds);
      const report = record?.report;
      // Probes, the playground's files and the docs come often and say little: debug level.
      const quiet = request.routeOptions.config.scope === 'public' && status < 400;
      request.log[quiet ? 'debug' : 'info'](
        {
          method: request.method,
          url: request.routeOptions.url ?? request.url.split('?')[0],
          status,
          ms: ms(seconds * 1000),
          ...(request.caller ? { tenant: request.caller.tenant, key: request.caller.key } : {}),
          ...(record ? { model: record.model, task: record.task } : {}),
          ...(options.logInputs && request.body !== undefined
            ? { body: JSON.stringify(request.body).slice(0, LOGGED_BODY_CHARS) }
            : {}),
          ...(report
            ? {
                tokens_in: report.inputTokens,
                tokens_out: report.outputTokens,
                queue_ms: ms(report.queueMs),
                tokenize_ms: ms(report.tokenizeMs),
                inference_ms: ms(report.inferenceMs),
                batch_inputs: report.batchInputs,
              }
            : {}),
        },
        'request',
      );
    });
  });
  app.addHook('onSend', async (request, reply, payload) => {
    const report = request.inference?.report;
    if (report) {
      const timing = `queue;dur=${ms(report.queueMs)}, tokenize;dur=${ms(report.tokenizeMs)}, inference;dur=${ms(report.inferenceMs)}`;
      void reply.header('Server-Timing', `${timing}, total;dur=${ms(reply.elapsedTime)}`);
    }
    return payload;
  });
}
