// GET /metrics in Prometheus' text format: inference requests by model, task and status, their latency
// by stage, tokens and batch sizes; the models, their queues and load times; and the process
// (event-loop lag, memory, CPU). Each app has its own prom-client registry, so that several servers in
// one process (tests) count apart.
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry as MetricsRegistry } from 'prom-client';
import type { Registry, RunReport } from '../registry/registry.ts';

/** What an answered inference request tells the metrics (observe.ts's InferenceRecord). */
export interface ObservedRequest {
  model: string;
  task: string;
  report?: RunReport | undefined;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];

type Labels = 'model' | 'task';

export class Metrics {
  readonly registry = new MetricsRegistry();
  private readonly requests: Counter<Labels | 'status'>;
  private readonly latency: Histogram<Labels>;
  private readonly stages: Histogram<Labels | 'stage'>;
  private readonly tokens: Counter<Labels | 'direction'>;
  private readonly batchInputs: Histogram<Labels>;

  constructor(models: Registry) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'hubserve_' });
    this.requests = new Counter({
      name: 'hubserve_requests_total',
      help: 'Inference requests answered, by model, task and HTTP status (499: the client left).',
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
    this.stages = new Histogram({
      name: 'hubserve_stage_duration_seconds',
      help: "Where inference requests' time went: queue (waiting for a worker), tokenize, inference.",
      labelNames: ['model', 'task', 'stage'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.tokens = new Counter({
      name: 'hubserve_tokens_total',
      help: 'Tokens read (in) and generated (out).',
      labelNames: ['model', 'task', 'direction'],
      registers,
    });
    this.batchInputs = new Histogram({
      name: 'hubserve_batch_inputs',
      help: 'Inputs in the batch each request ran in (dynamic batching at work).',
      labelNames: ['model', 'task'],
      buckets: BATCH_BUCKETS,
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
        for (const { key, label } of models.list()) {
          const queue = models.queue(key);
          if (queue) this.set({ model: label }, queue.queued);
        }
      },
    });
    new Gauge({
      name: 'hubserve_worker_heap_bytes',
      help: "JS heap and buffers of each model's workers (native ONNX Runtime memory is not in it).",
      labelNames: ['model'],
      registers,
      collect() {
        this.reset();
        for (const { key, label } of models.list()) {
          const workers = models.workers(key);
          if (workers) this.set({ model: label }, workers.heapBytes);
        }
      },
    });
    new Gauge({
      name: 'hubserve_worker_restarts',
      help: 'Workers replaced since the model loaded, by reason (crashed, hung, recycled for size).',
      labelNames: ['model', 'reason'],
      registers,
      collect() {
        this.reset();
        for (const { key, label } of models.list()) {
          for (const [reason, count] of Object.entries(models.workers(key)?.restarts ?? {})) {
            this.set({ model: label, reason }, count);
          }
        }
      },
    });
    new Gauge({
      name: 'hubserve_model_resident_bytes',
      help: 'Resident memory each loaded model added to the process when it loaded (with a memory budget).',
      labelNames: ['model'],
      registers,
      collect() {
        this.reset();
        for (const { label, residentBytes, state } of models.list()) {
          if (residentBytes !== undefined && state === 'ready') this.set({ model: label }, residentBytes);
        }
      },
    });
    new Gauge({
      name: 'hubserve_memory_budget',
      help: 'The memory budget (max_*) and its use (loaded_*): models, and their measured bytes.',
      labelNames: ['measure'],
      registers,
      collect() {
        this.reset();
        const budget = models.budget;
        this.set({ measure: 'loaded_models' }, budget.loadedModels);
        this.set({ measure: 'loaded_bytes' }, budget.loadedBytes);
        if (budget.maxLoadedModels !== undefined)
          this.set({ measure: 'max_loaded_models' }, budget.maxLoadedModels);
        if (budget.maxBytes !== undefined) this.set({ measure: 'max_bytes' }, budget.maxBytes);
      },
    });
    new Gauge({
      name: 'hubserve_model_load_seconds',
      help: 'How long each model took to load and warm up.',
      labelNames: ['model'],
      registers,
      collect() {
        this.reset();
        for (const { label, info } of models.list()) {
          if (info) this.set({ model: label }, (info.loadMs + info.warmupMs) / 1000);
        }
      },
    });
  }

  /** Counts an inference request once it is answered. */
  observe(record: ObservedRequest, status: number, seconds: number): void {
    const labels = { model: record.model, task: record.task };
    this.requests.inc({ ...labels, status: String(status) });
    this.latency.observe(labels, seconds);
    const report = record.report;
    if (!report) return;
    this.stages.observe({ ...labels, stage: 'queue' }, report.queueMs / 1000);
    this.stages.observe({ ...labels, stage: 'tokenize' }, report.tokenizeMs / 1000);
    this.stages.observe({ ...labels, stage: 'inference' }, report.inferenceMs / 1000);
    this.tokens.inc({ ...labels, direction: 'in' }, report.inputTokens);
    this.tokens.inc({ ...labels, direction: 'out' }, report.outputTokens);
    this.batchInputs.observe(labels, report.batchInputs);
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
