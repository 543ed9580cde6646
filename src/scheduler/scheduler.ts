// One model's queue: requests wait here, are merged into batches (dynamic batching, grouped by length
// under a token budget), and go to the model's workers one batch per idle worker. Bounded queue
// (503), per-request deadline (504), and a request whose client left is dropped before it costs
// inference.
import { ServeError } from '../errors.ts';
import type { RunOptions } from '../engine/runner.ts';
import type { TaskDefinition } from '../tasks/index.ts';
import type { RunMeter } from '../tasks/types.ts';

/** What one request read and generated, and where its time went. */
export interface RunReport {
  inputTokens: number;
  outputTokens: number;
  /** Waiting for a worker. */
  queueMs: number;
  /** Its batch's tokenization (chat template and length checks included). */
  tokenizeMs: number;
  /** Its batch's run, less tokenization: the model and post-processing. */
  inferenceMs: number;
  /** Inputs in the batch it ran in (its own and those of requests merged with it). */
  batchInputs: number;
}

export interface SubmitOptions {
  /** Stream generated tokens (such a request runs alone). */
  onToken?: RunOptions['onToken'];
  /** Cancel it, queued or running. */
  signal?: AbortSignal;
  /** Receive its report just before its answer. */
  onReport?: (report: RunReport) => void;
}

export interface BatchingSettings {
  /** Inputs in one batch. */
  max_batch_size: number;
  /** How long an idle model waits for more requests to fill a batch. */
  max_delay_ms: number;
  /** Padded tokens (longest input x inputs) in one batch, estimated. */
  max_batch_tokens: number;
  /** Inputs waiting, beyond which requests are refused with 503. */
  max_queue: number;
  /** A request not answered by then gets 504. */
  timeout_ms: number;
  /** Inputs whose estimated lengths differ by more than this factor are not padded into one batch. */
  max_length_ratio: number;
}

// Chosen by measurement on a 2-core machine with the BERT-base-shaped model (docs/benchmarks.md):
// batches of 16 equal-length sentences are the in-process optimum; grouping lengths within 1.2x gave
// 37 req/s at concurrency 32, against 31.8 (1.1x: batches too small), 33 (1.5x) and 30.8 (2x:
// padding). The 2 ms wait for company is skipped while requests arrive further apart than it (one
// client at a time), so it costs nothing at concurrency 1.
export const DEFAULT_BATCHING: BatchingSettings = {
  max_batch_size: 16,
  max_delay_ms: 2,
  max_batch_tokens: 8192,
  max_queue: 1024,
  timeout_ms: 30_000,
  max_length_ratio: 1.2,
};

/** Runs one batch on an idle worker: one result per input when the task batches. */
export type BatchRunner = (
  task: string,
  inputs: unknown,
  parameters: Record<string, unknown>,
  options?: RunOptions,
) => Promise<unknown>;

interface Job {
  task: TaskDefinition;
  /** The request's inputs, as an array when the task batches. */
  inputs: unknown[];
  /** Whether the request sent one input (not an array). */
  single: boolean;
  raw: unknown;
  parameters: Record<string, unknown>;
  options: SubmitOptions;
  /** Aborted when the client leaves or the deadline passes: cancels the work, queued or running. */
  cancel: AbortController;
  /** How its inputs batch (the task's way), or undefined when it runs alone as it came. */
  batching: TaskDefinition['batching'];
  /** Jobs with equal keys may share a batch. */
  key: string | undefined;
  /** Estimated tokens of the longest input. */
  length: number;
  enqueued: number;
  resolve: (output: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
  settled: boolean;
  /** Stops listening to the client's signal (once the job is settled). */
  detach: () => void;
}

/** Parameters as a batch key: the same settings in any key order are the same key. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Token estimate without tokenizing on the event loop: ~4 characters a token, plus special tokens. */
function estimateTokens(input: unknown): number {
  if (typeof input === 'string') return Math.ceil(input.length / 4) + 2;
  if (input && typeof input === 'object') {
    return Object.values(input).reduce<number>(
      (sum, v) => sum + (typeof v === 'string' ? v.length / 4 : 0),
      3,
    );
  }
  return 2;
}

/**
 * A job's share of its batch's token counts: inputs [offset, offset + count) of `total`. Jobs of a
 * batch share their parameters, so every input of it has the same number of rows.
 */
function tokenShare(meter: RunMeter, total: number, offset: number, count: number) {
  const share = (rows: number[]): number => {
    const perInput = rows.length / total;
    return rows.slice(offset * perInput, (offset + count) * perInput).reduce((a, b) => a + b, 0);
  };
  return { inputTokens: share(meter.input), outputTokens: share(meter.output) };
}

export interface SchedulerStats {
  /** Workers running now. */
  workers: number;
  queued: number;
  running: number;
  batches: number;
  batchedInputs: number;
}

export class Scheduler {
  private queue: Job[] = [];
  private queuedInputs = 0;
  private running = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Requests submitted in one tick are seen together: the pump runs once they all are queued. */
  private soon: NodeJS.Immediate | undefined;
  /** When the last request arrived, and how long after the one before it. */
  private lastArrival = -Infinity;
  private arrivalGap = Infinity;
  private batches = 0;
  private batchedInputs = 0;
  /** Jobs on a worker now. */
  private readonly dispatched = new Set<Job>();
  /** Set once the model stops taking work: why. */
  private closed: ServeError | undefined;

  constructor(
    private readonly runBatch: BatchRunner,
    /** Batches that may run at once: the model's workers. */
    private readonly slots: () => number,
    readonly settings: BatchingSettings = DEFAULT_BATCHING,
  ) {}

  get stats(): SchedulerStats {
    return {
      workers: this.slots(),
      queued: this.queuedInputs,
      running: this.running,
      batches: this.batches,
      batchedInputs: this.batchedInputs,
    };
  }

  /** Queues a request; `options.onToken` streams it (never batched), `options.signal` cancels it. */
  submit(
    task: TaskDefinition,
    inputs: unknown,
    parameters: Record<string, unknown>,
    options: SubmitOptions = {},
  ): Promise<unknown> {
    const { signal } = options;
    if (this.closed) return Promise.reject(this.closed);
    if (this.slots() === 0) {
      return Promise.reject(
        new ServeError('model_not_ready', 'no worker of this model is running; retry shortly'),
      );
    }
    // A request the task cannot batch (chat messages) runs alone, its inputs as they are.
    const batching =
      task.batching !== undefined && (task.batchable?.(inputs) ?? true) ? task.batching : undefined;
    const list = batching && Array.isArray(inputs) ? inputs : [inputs];
    // An empty queue takes any request, so one larger than max_queue is slow, not impossible.
    if (this.queuedInputs > 0 && this.queuedInputs + list.length > this.settings.max_queue) {
      return Promise.reject(
        new ServeError(
          'overloaded',
          `the model's queue is full (${this.queuedInputs} inputs waiting); retry shortly`,
          {
            queued: this.queuedInputs,
          },
        ),
      );
    }
    if (signal?.aborted) return Promise.reject(new ServeError('invalid_request', 'the client went away'));
    return new Promise((resolve, reject) => {
      const job: Job = {
        task,
        inputs: list,
        single: !Array.isArray(inputs),
        raw: inputs,
        parameters,
        options,
        batching,
        key: batching && !options.onToken ? `${task.name}\u0000${canonical(parameters)}` : undefined,
        length: list.reduce<number>((longest, input) => Math.max(longest, estimateTokens(input)), 0),
        cancel: new AbortController(),
        enqueued: performance.now(),
        resolve,
        reject,
        settled: false,
        detach: () => undefined,
        timer: setTimeout(() => {
          this.fail(job, new ServeError('timeout', `no answer within ${this.settings.timeout_ms} ms`));
          job.cancel.abort();
        }, this.settings.timeout_ms),
      };
      this.arrivalGap = job.enqueued - this.lastArrival;
      this.lastArrival = job.enqueued;
      this.queue.push(job);
      this.queuedInputs += list.length;
      const left = (): void => {
        this.drop(job);
        job.cancel.abort();
      };
      signal?.addEventListener('abort', left, { once: true });
      job.detach = () => signal?.removeEventListener('abort', left);
      this.soon ??= setImmediate(() => {
        this.soon = undefined;
        this.pump();
      });
    });
  }

  /**
   * Stops taking work and fails every job, queued or running, with `error` (a running one's worker is
   * told to stop it): what a server shutting down does with what its deadline did not let finish.
   */
  close(error: ServeError): void {
    this.closed = error;
    for (const job of [...this.queue, ...this.dispatched]) {
      this.fail(job, error);
      job.cancel.abort();
    }
  }

  /** A queued job whose client left: removed before it reaches a worker. */
  private drop(job: Job): void {
    if (this.remove(job)) this.fail(job, new ServeError('invalid_request', 'the client went away'));
  }

  private remove(job: Job): boolean {
    const at = this.queue.indexOf(job);
    if (at < 0) return false;
    this.queue.splice(at, 1);
    this.queuedInputs -= job.inputs.length;
    return true;
  }

  private fail(job: Job, error: Error): void {
    this.remove(job);
    this.settle(job, () => job.reject(error));
  }

  private settle(job: Job, action: () => void): void {
    if (job.settled) return;
    job.settled = true;
    job.detach();
    this.dispatched.delete(job);
    clearTimeout(job.timer);
    action();
  }

  /** Workers came or went: dispatch what waits, or refuse it when none is left. */
  wake(): void {
    if (this.slots() === 0) {
      for (const job of [...this.queue]) {
        this.fail(job, new ServeError('worker_failed', "the model's workers stopped; retry shortly"));
      }
    }
    this.pump();
  }

  private pump(): void {
    while (this.running < this.slots() && this.queue.length > 0) {
      const oldest = this.queue[0] as Job;
      // A free worker waits a moment for company, unless the batch is already full, or no company is
      // coming: requests arriving further apart than the wait (one client at a time) would only be
      // delayed by it.
      const waited = performance.now() - oldest.enqueued;
      const fillable = oldest.key !== undefined && this.queuedInputs < this.settings.max_batch_size;
      const companyComing = this.arrivalGap < this.settings.max_delay_ms;
      if (fillable && companyComing && waited < this.settings.max_delay_ms) {
        this.timer ??= setTimeout(() => {
          this.timer = undefined;
          this.pump();
        }, this.settings.max_delay_ms - waited);
        return;
      }
      this.dispatch(this.formBatch(oldest));
    }
  }

  /** The oldest job, plus the waiting jobs of the same task and parameters closest to it in length. */
  private formBatch(oldest: Job): Job[] {
    const batch = [oldest];
    if (oldest.key === undefined) return batch;
    const { max_batch_size, max_batch_tokens, max_length_ratio } = this.settings;
    let count = oldest.inputs.length;
    let shortest = oldest.length;
    let longest = oldest.length;
    const candidates = this.queue
      .filter((j) => j !== oldest && j.key === oldest.key)
      .sort((a, b) => Math.abs(a.length - oldest.length) - Math.abs(b.length - oldest.length));
    for (const job of candidates) {
      const low = Math.min(shortest, job.length);
      const high = Math.max(longest, job.length);
      const size = count + job.inputs.length;
      if (size > max_batch_size || high * size > max_batch_tokens || high > low * max_length_ratio) continue;
      batch.push(job);
      [count, shortest, longest] = [size, low, high];
    }
    return batch;
  }

  private dispatch(batch: Job[]): void {
    for (const job of batch) {
      this.remove(job);
      this.dispatched.add(job);
    }
    const [first] = batch as [Job];
    const inputs = first.batching ? batch.flatMap((j) => j.inputs) : first.raw;
    this.running++;
    this.batches++;
    this.batchedInputs += batch.reduce((n, j) => n + j.inputs.length, 0);
    // A job running alone can stream and be cancelled; a shared batch runs to its end.
    const alone = batch.length === 1 ? { onToken: first.options.onToken, signal: first.cancel.signal } : {};
    const total = batch.reduce((n, j) => n + j.inputs.length, 0);
    const dispatched = performance.now();
    const onMeter = (meter: RunMeter): void => {
      let offset = 0;
      for (const job of batch) {
        job.options.onReport?.({
          ...tokenShare(meter, total, offset, job.inputs.length),
          queueMs: dispatched - job.enqueued,
          tokenizeMs: meter.tokenizeMs,
          inferenceMs: meter.runMs - meter.tokenizeMs,
          batchInputs: total,
        });
        offset += job.inputs.length;
      }
    };
    this.runBatch(first.task.name, inputs, first.parameters, { ...alone, onMeter })
      .then(
        (output) => {
          if (!first.batching) return this.settle(first, () => first.resolve(output));
          if (!Array.isArray(output) || output.length !== total) {
            throw new ServeError(
              'internal',
              `${first.task.name} answered ${total} inputs with something else`,
            );
          }
          const results: unknown[] = output;
          let offset = 0;
          for (const job of batch) {
            const own = results.slice(offset, offset + job.inputs.length);
            offset += job.inputs.length;
            const answer = job.single && first.batching === 'unwrapped' ? own[0] : own;
            this.settle(job, () => job.resolve(answer));
          }
        },
        (error: Error) => {
          // One bad input fails its whole batch: retry the others alone so they still get answers
          // (but not when the worker itself failed: that fails them all).
          const workerFailed = error instanceof ServeError && error.code === 'worker_failed';
          if (batch.length === 1 || workerFailed) {
            for (const job of batch) this.settle(job, () => job.reject(error));
          } else for (const job of [...batch].reverse()) this.retryAlone(job);
        },
      )
      .catch((error: unknown) => {
        const failure = error instanceof Error ? error : new Error(String(error));
        for (const job of batch) this.settle(job, () => job.reject(failure));
      })
      .finally(() => {
        this.running--;
        this.pump();
      });
  }

  private retryAlone(job: Job): void {
    if (job.settled) return; // timed out or abandoned meanwhile
    job.key = undefined; // a job without a key is batched with no other
    this.queue.unshift(job);
    this.queuedInputs += job.inputs.length;
  }
}
