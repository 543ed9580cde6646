// GET /metrics in Prometheus' text format: inference requests by model, task and status with their
// latency, the models and their queues, and the process (event-loop lag, memory, CPU). Each app has its
// own prom-client registry, so that several servers in one process (tests) count apart.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry as MetricsRegistry } from 'prom-client';
import type { Registry } from '../registry/registry.ts';

/** Which model and task a request ran, so that it is counted under them. */
export interface InferenceLabels {
  model: string;
  task: string;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class Metrics {
  readonly registry = new MetricsRegistry();
  private readonly requests: Counter<'model' | 'task' | 'status'>;
  private readonly latency: Histogram<'model' | 'task'>;

  constructor(private readonly models: Registry) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'hubserve_' });
    this.requests = new Counter({
      name: 'hubserve_requests_total',
      help: 'Inference requests answered, by model, task and HTTP status.',
      labelNames: ['model', 'task', 'status'],
      registers,
    });
    this.latency = new Histogram({
      name: 'hubserve_request_duration_seconds',
      help: 'Inference requests from arrival to the last byte of the answer.',
      labelNames: ['model', 'task'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    new Gauge({
      name: 'hubserve_models',
      help: 'Served models by state.',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        for (const model of models.list()) this.inc({ state: model.state });
      },
    });
    new Gauge({
      name: 'hubserve_queue_inputs',
      help: 'Inputs waiting for a worker, by model.',
      labelNames: ['model'],
      registers,
      collect() {
        this.reset();
        for (const { name } of models.list()) {
          const queue = models.queue(name);
          if (queue) this.set({ model: name }, queue.queued);
        }
      },
    });
  }

  /**
   * Counts a request to a served model (model_not_found otherwise: a name nobody serves is no label)
   * once its answer has gone out or its client left, streamed answers included. The task is the
   * model's own until the caller sets the one the request asked for in the returned labels.
   */
  track(reply: FastifyReply, model: string, task?: string): InferenceLabels {
    const served = this.models.get(model);
    const labels = { model, task: task ?? served.task ?? 'none' };
    reply.raw.once('close', () => {
      // A client that left before the answer is counted as nginx does it: 499.
      const status = reply.raw.writableFinished ? reply.raw.statusCode : 499;
      this.requests.inc({ ...labels, status: String(status) });
      this.latency.observe(labels, reply.elapsedTime / 1000);
    });
    return labels;
  }
}

export async function metricsRoutes(app: FastifyInstance, { metrics }: { metrics: Metrics }): Promise<void> {
  app.get(
    '/metrics',
    {
      config: { scope: 'metrics' },
      schema: { summary: 'Prometheus metrics', tags: ['health'], produces: ['text/plain'] },
    },
    async (_request, reply) =>
      reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
}
