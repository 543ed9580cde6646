// A worker thread that owns one loaded model: loads and warms it, then runs requests one at a time.
// Models run here, never on the main thread.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import * as runtime from '@huggingface/transformers';
import type { PreTrainedModel } from '@huggingface/transformers';
import { ServeError, toWire } from '../errors.ts';
import { loadHandler } from '../tasks/custom.ts';
import {
  TASKS,
  type ModelConfig,
  type ModelContext,
  type TaskDefinition,
  type TaskName,
} from '../tasks/index.ts';
import type { RunMeter, StreamedToken } from '../tasks/types.ts';
import type { FromWorker, LoadSpec, ModelInfo, ToWorker } from './protocol.ts';
import { completeSpecialTokens } from './special-tokens.ts';

const { env, LogLevel, AutoTokenizer } = runtime;
env.allowRemoteModels = false; // sources are resolved (downloaded) before a model reaches a worker
env.useFSCache = false;
env.logLevel = LogLevel.ERROR;

const MODEL_CLASSES = {
  'sequence-classification': runtime.AutoModelForSequenceClassification,
  'token-classification': runtime.AutoModelForTokenClassification,
  'question-answering': runtime.AutoModelForQuestionAnswering,
  'masked-lm': runtime.AutoModelForMaskedLM,
  'feature-extraction': runtime.AutoModel,
  'seq2seq-lm': runtime.AutoModelForSeq2SeqLM,
  'causal-lm': runtime.AutoModelForCausalLM,
} as const;

const port = parentPort;
if (!port) throw new Error('engine/worker.ts runs as a worker thread');
const send = (message: FromWorker): void => port.postMessage(message);

function maxTokens(config: ModelConfig, tokenizerLimit: unknown): number {
  const limits = [tokenizerLimit, config.max_position_embeddings, config.n_positions].filter(
    (n): n is number => typeof n === 'number' && Number.isFinite(n) && n > 0 && n < 1e7,
  );
  return limits.length ? Math.min(...limits) : 512;
}

function deviceError(spec: LoadSpec, error: unknown): ServeError | undefined {
  if (spec.device === 'cpu') return undefined;
  const hint =
    spec.device === 'cuda'
      ? 'it needs an NVIDIA GPU with CUDA 12 and cuDNN 9, and onnxruntime-node installed with its CUDA binaries (see README, "GPU")'
      : 'it needs a GPU with Vulkan drivers';
  const reason = error instanceof Error ? error.message : String(error);
  return new ServeError(
    'device_unavailable',
    `device "${spec.device}" is not available: ${hint}. (${reason})`,
    {
      device: spec.device,
    },
  );
}

interface Loaded {
  context: ModelContext;
  info: ModelInfo;
  /** The task (or handler) a request names -> its definition. */
  taskOf: (name: string) => TaskDefinition;
}

async function load(spec: LoadSpec): Promise<Loaded> {
  const started = performance.now();
  const config = JSON.parse(readFileSync(join(spec.path, 'config.json'), 'utf8')) as ModelConfig;
  const task = spec.handler ? await loadHandler(spec.handler) : TASKS[spec.task as TaskName];
  const taskOf = (name: string): TaskDefinition => (name === task.name ? task : TASKS[name as TaskName]);
  const tokenizer = await AutoTokenizer.from_pretrained(spec.path);
  const specials = completeSpecialTokens(tokenizer, spec.path, task.modelClass === 'causal-lm');
  let model;
  try {
    model = await MODEL_CLASSES[task.modelClass].from_pretrained(spec.path, {
      dtype: spec.dtype as runtime.DataType,
      device: spec.device,
      session_options: {
        intraOpNumThreads: spec.threads,
        interOpNumThreads: 1,
        // Idle ORT threads that spin take the CPU from tokenization and the event loop: measured +9%
        // throughput at concurrency 32 on 2 cores without spinning, latency alone unchanged.
        extra: { session: { intra_op: { allow_spinning: '0' } } },
      },
    });
  } catch (error) {
    throw deviceError(spec, error) ?? error;
  }
  countRuns(model);
  const labels = Object.entries(config.id2label ?? {})
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([, label]) => label);
  const context: ModelContext = {
    runtime,
    tokenizer,
    model,
    config,
    labels,
    maxTokens: maxTokens(config, tokenizer.model_max_length),
    meter: newMeter(),
  };
  const loaded = performance.now();
  send({ type: 'warming' });
  const warmup = task.warmup?.(context) ?? task.example;
  await task.run(context, warmup.inputs, warmup.parameters ?? {});
  const info: ModelInfo = {
    task: spec.task,
    modelType: config.model_type ?? 'unknown',
    architectures: config.architectures ?? [],
    labels,
    maxTokens: context.maxTokens,
    dtype: spec.dtype,
    device: spec.device,
    loadMs: Math.round(loaded - started),
    warmupMs: Math.round(performance.now() - loaded),
    warnings: specials.warnings,
  };
  return { context, info, taskOf };
}

const newMeter = (): RunMeter => ({ input: [], output: [], tokenizeMs: 0, runMs: 0 });

const spec = workerData as LoadSpec;
const runs = new Int32Array(spec.runs);

/** Counts the model's ONNX Runtime runs in `runs`, for the main thread's watchdog. */
function countRuns(model: PreTrainedModel): void {
  const sessions = (
    model as unknown as { sessions?: Record<string, { run: (...args: never[]) => Promise<unknown> }> }
  ).sessions;
  for (const session of Object.values(sessions ?? {})) {
    const run = session.run.bind(session);
    session.run = async (...args) => {
      Atomics.add(runs, 0, 1);
      try {
        return await run(...args);
      } finally {
        Atomics.sub(runs, 0, 1);
        Atomics.add(runs, 1, 1);
      }
    };
  }
}

/** This thread's V8 heap and buffers. */
const heapBytes = (): number => {
  const { heapUsed, external } = process.memoryUsage();
  return heapUsed + external;
};
let queue: Promise<void> = Promise.resolve();

load(spec).then(
  ({ context, info, taskOf }) => {
    send({ type: 'ready', info });
    // What the loaded, warm model holds (its weights are buffers too): growth is measured from here.
    const baseline = heapBytes();
    // Requests whose client has gone: a running generation checks this between tokens.
    const cancelled = new Set<number>();
    const active = new Set<number>(); // queued or running here
    port.on('message', (message: ToWorker) => {
      if (message.type === 'cancel') {
        if (active.has(message.id)) cancelled.add(message.id);
        return;
      }
      if (message.type === 'ping') {
        const now = heapBytes();
        send({ type: 'pong', heapBytes: now, grownBytes: Math.max(0, now - baseline) });
        return;
      }
      if (message.type === 'dispose') {
        queue = queue.then(async () => {
          await context.model.dispose();
          send({ type: 'disposed' });
        });
        return;
      }
      const { id } = message;
      active.add(id);
      const stream = {
        cancelled: () => cancelled.has(id),
        ...(message.stream ? { token: (token: StreamedToken) => send({ type: 'token', id, token }) } : {}),
      };
      // One request at a time: ONNX Runtime serializes a session anyway, and a request's seed must
      // not be disturbed by another's sampling.
      queue = queue.then(async () => {
        try {
          if (cancelled.has(id)) throw new ServeError('invalid_request', 'the client went away');
          context.meter = newMeter();
          const started = performance.now();
          const output = await taskOf(message.task).run(
            context,
            message.inputs as never,
            message.parameters as never,
            stream,
          );
          context.meter.runMs = performance.now() - started;
          send({ type: 'result', id, output, meter: context.meter });
        } catch (error) {
          send({ type: 'failed', id, error: toWire(error) });
        } finally {
          cancelled.delete(id);
          active.delete(id);
        }
      });
    });
  },
  (error: unknown) => send({ type: 'load-failed', error: toWire(error) }),
);
