// The main thread's handle on one loaded model: its worker threads (instances), requests dispatched
// to the least busy one, and failures contained (a dead worker fails its own requests with a clear
// error and is replaced; the rest of the server carries on).
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { fromWire, ServeError } from '../errors.ts';
import { siblingModule, spawnWorker } from '../util/worker.ts';
import type { StreamedToken, RunMeter } from '../tasks/types.ts';
import type { Device, FromWorker, LoadSpec, ModelInfo, ToWorker } from './protocol.ts';

export { DEVICES, type Device, type ModelInfo } from './protocol.ts';

export interface EngineModelSpec {
  path: string;
  task: string;
  /** Absolute path of a custom handler module. */
  handler?: string;
  dtype: string;
  device: Device;
  /** Worker threads (each with its own copy of the weights). */
  instances: number;
  /** ONNX Runtime threads per worker; default: the cores shared out between instances. */
  threads?: number;
  /**
   * A worker whose event loop has been silent this long outside model runs is hung (a handler's
   * endless loop): terminated and replaced, its requests failed.
   */
  hangTimeoutMs?: number;
  /** A worker whose heap and buffers grew this much since it was ready is replaced, gracefully. */
  maxWorkerGrowthBytes?: number;
}

/** Why a worker was replaced. */
export type RestartReason = 'crashed' | 'hung' | 'recycled';

export interface RunnerStats {
  /** V8 heap and buffers of the workers, as they last reported (native ONNX Runtime memory is not in it). */
  heapBytes: number;
  restarts: Record<RestartReason, number>;
}

const DEFAULT_HANG_TIMEOUT_MS = 10_000;
/** How often each worker is asked whether it is alive (and how large it is). */
const WATCH_INTERVAL_MS = 1_000;

const WORKER_URL = siblingModule(import.meta.url, 'worker');

/** What every worker of a model loads (each gets its own run counters). */
type WorkerSpec = Omit<LoadSpec, 'runs'>;

const startWorker = (spec: LoadSpec): Worker =>
  spawnWorker(WORKER_URL, { workerData: spec, name: `hubserve:${spec.task}` });

/**
 * How long a worker may take to finish its work in hand before it is terminated. Generous on
 * purpose: terminating a worker in the middle of an inference aborts the whole process in
 * onnxruntime-node ("terminate called after throwing an instance of 'Napi::Error'").
 */
const DISPOSE_WAIT_MS = 120_000;

interface Pending {
  resolve: (output: unknown) => void;
  reject: (error: Error) => void;
  onToken?: ((token: StreamedToken) => void) | undefined;
  onMeter?: ((meter: RunMeter) => void) | undefined;
}

export interface RunOptions {
  /** Receive generated tokens as they come (text generation). */
  onToken?: (token: StreamedToken) => void;
  /** Receive what the run read, generated and took, just before its result. */
  onMeter?: (meter: RunMeter) => void;
  /** Abort: a generation stops at its next token. */
  signal?: AbortSignal;
}

class WorkerSlot {
  readonly pending = new Map<number, Pending>();
  private disposing = false;
  /** When its event loop last answered a ping. */
  lastPong = performance.now();
  /** Its heap and buffers, as it last reported them, and how much they grew since it was ready. */
  heapBytes = 0;
  grownBytes = 0;
  private runsDone = 0;
  /** A replacement is loading for it (it grew too large); it serves until that one is ready. */
  retiring = false;

  private constructor(
    readonly worker: Worker,
    readonly info: ModelInfo,
    /** ONNX Runtime runs in progress and finished on it (see LoadSpec.runs). */
    private readonly runs: Int32Array,
    onExit: (slot: WorkerSlot) => void,
  ) {
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'token') return this.pending.get(message.id)?.onToken?.(message.token);
      if (message.type === 'pong') {
        this.lastPong = performance.now();
        this.heapBytes = message.heapBytes;
        this.grownBytes = message.grownBytes;
        return;
      }
      if (message.type !== 'result' && message.type !== 'failed') return;
      const pending = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.type === 'result') {
        pending?.onMeter?.(message.meter);
        pending?.resolve(message.output);
      } else pending?.reject(fromWire(message.error));
    });
    worker.on('error', (error) => this.died(error.message, onExit));
    worker.on('exit', (code) => this.died(`exit code ${code}`, onExit));
  }

  private dead = false;

  /** Fails what it held and has it replaced, once ('error' is followed by 'exit'). */
  died(reason: string, onExit: (slot: WorkerSlot) => void): void {
    if (this.dead) return;
    this.dead = true;
    for (const p of this.pending.values()) {
      p.reject(new ServeError('worker_failed', `the model's worker stopped (${reason}); try again`));
    }
    this.pending.clear();
    if (!this.disposing) onExit(this);
  }

  static start(
    spec: WorkerSpec,
    onExit: (slot: WorkerSlot) => void,
    onWarming: () => void = () => undefined,
  ): Promise<WorkerSlot> {
    const runs = new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT);
    const worker = startWorker({ ...spec, runs });
    return new Promise((resolve, reject) => {
      const failed = (error: Error): void => reject(new ServeError('model_load_failed', error.message));
      const exited = (code: number): void =>
        failed(new Error(`the worker exited (code ${code}) while loading`));
      worker.once('error', failed);
      worker.once('exit', exited);
      const started = (message: FromWorker): void => {
        if (message.type === 'warming') return onWarming();
        worker.off('message', started);
        worker.off('error', failed);
        worker.off('exit', exited);
        if (message.type === 'ready')
          resolve(new WorkerSlot(worker, message.info, new Int32Array(runs), onExit));
        else {
          void worker.terminate();
          const error = message.type === 'load-failed' ? fromWire(message.error) : new Error(message.type);
          reject(
            error instanceof ServeError && error.code !== 'internal'
              ? error
              : new ServeError('model_load_failed', error.message),
          );
        }
      };
      worker.on('message', started);
    });
  }

  send(message: ToWorker): void {
    this.worker.postMessage(message);
  }

  /** Inside an ONNX Runtime run now: its event loop is blocked by the model, and must not be cut. */
  get inRun(): boolean {
    return Atomics.load(this.runs, 0) > 0;
  }

  /**
   * How long its event loop has been silent outside model runs: a run in progress or one finished
   * since the last look counts as life.
   */
  silentMs(now: number): number {
    const done = Atomics.load(this.runs, 1);
    if (this.inRun || done !== this.runsDone) {
      this.runsDone = done;
      this.lastPong = now;
    }
    return now - this.lastPong;
  }

  async dispose(): Promise<void> {
    this.disposing = true;
    await new Promise<void>((resolve) => {
      const done = (message: FromWorker): void => {
        if (message.type === 'disposed') resolve();
      };
      this.worker.on('message', done);
      this.send({ type: 'dispose' }); // queued after the work in hand, which finishes first
      setTimeout(resolve, DISPOSE_WAIT_MS).unref();
    });
    // Never in the middle of a run: left to end by itself instead (it holds no request any more).
    if (!this.inRun) await this.worker.terminate();
  }
}

export class ModelRunner {
  private slots: WorkerSlot[] = [];
  private nextId = 0;
  private disposed = false;
  private readonly restarts: Record<RestartReason, number> = { crashed: 0, hung: 0, recycled: 0 };
  private readonly watchdog: NodeJS.Timeout;

  /** Called when workers come or go (the scheduler then dispatches or refuses). */
  onWorkersChanged: () => void = () => undefined;

  private constructor(
    private readonly spec: WorkerSpec,
    private readonly limits: { hangTimeoutMs: number; maxWorkerGrowthBytes: number | undefined },
  ) {
    // Looked at a few times per timeout, so that a worker is not called hung for one late answer.
    const every = Math.min(WATCH_INTERVAL_MS, limits.hangTimeoutMs / 4);
    this.watchdog = setInterval(() => this.watch(), every).unref();
  }

  /**
   * Loads and warms every instance; resolves once the model can take traffic. `onWarming`: the first
   * instance has loaded and runs its warm-up.
   */
  static async start(model: EngineModelSpec, onWarming?: () => void): Promise<ModelRunner> {
    const threads = model.threads ?? Math.max(1, Math.floor(availableParallelism() / model.instances));
    const spec: WorkerSpec = {
      path: model.path,
      task: model.task,
      dtype: model.dtype,
      device: model.device,
      threads,
      ...(model.handler ? { handler: model.handler } : {}),
    };
    const runner = new ModelRunner(spec, {
      hangTimeoutMs: model.hangTimeoutMs ?? DEFAULT_HANG_TIMEOUT_MS,
      maxWorkerGrowthBytes: model.maxWorkerGrowthBytes,
    });
    const started = await Promise.allSettled(
      Array.from({ length: model.instances }, () => runner.startWorker(onWarming)),
    );
    runner.slots = started.filter((s) => s.status === 'fulfilled').map((s) => s.value);
    const failure = started.find((s) => s.status === 'rejected');
    if (failure) {
      await runner.dispose();
      throw failure.reason;
    }
    return runner;
  }

  private startWorker(onWarming?: () => void): Promise<WorkerSlot> {
    return WorkerSlot.start(this.spec, (slot) => this.replace(slot, 'crashed'), onWarming);
  }

  get stats(): RunnerStats {
    return { heapBytes: this.slots.reduce((n, s) => n + s.heapBytes, 0), restarts: { ...this.restarts } };
  }

  /** Pings every worker; replaces one that stopped answering, and recycles one grown too large. */
  private watch(): void {
    const now = performance.now();
    for (const slot of this.slots) {
      const silent = slot.silentMs(now);
      if (silent > this.limits.hangTimeoutMs) {
        // Stuck in JavaScript outside any model run (a handler's endless loop): terminating is safe.
        slot.died(`no answer for ${Math.round(silent / 1000)} s`, (s) => this.replace(s, 'hung'));
        void slot.worker.terminate();
        continue;
      }
      const max = this.limits.maxWorkerGrowthBytes;
      if (max !== undefined && slot.grownBytes > max && !slot.retiring) this.recycle(slot);
      slot.send({ type: 'ping' });
    }
  }

  /**
   * Replaces a worker without failing a request: its replacement loads first, then it takes no new
   * work, finishes what it holds, and is disposed.
   */
  private recycle(old: WorkerSlot): void {
    old.retiring = true;
    this.startWorker().then(
      (slot) => {
        // Gone meanwhile (crashed or hung, and replaced already): this one would be one too many.
        if (this.disposed || !this.slots.includes(old)) return void slot.dispose();
        this.restarts.recycled++;
        this.slots = [...this.slots.filter((s) => s !== old), slot];
        this.onWorkersChanged();
        void old.dispose();
      },
      () => (old.retiring = false), // no replacement: it goes on serving, and is tried again later
    );
  }

  get info(): ModelInfo {
    const [first] = this.slots;
    if (!first) throw new ServeError('model_not_ready', 'the model has no running worker');
    return first.info;
  }

  /** Workers able to take a request now. */
  get workers(): number {
    return this.slots.length;
  }

  run(
    task: string,
    inputs: unknown,
    parameters: Record<string, unknown>,
    options: RunOptions = {},
  ): Promise<unknown> {
    const slot = this.slots.reduce<WorkerSlot | undefined>(
      (best, s) => (!best || s.pending.size < best.pending.size ? s : best),
      undefined,
    );
    if (!slot || this.disposed) {
      return Promise.reject(new ServeError('model_not_ready', 'the model is restarting; try again shortly'));
    }
    const id = this.nextId++;
    const cancel = (): void => slot.send({ type: 'cancel', id });
    options.signal?.addEventListener('abort', cancel, { once: true });
    return new Promise<unknown>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject, onToken: options.onToken, onMeter: options.onMeter });
      slot.send({ type: 'run', id, task, inputs, parameters, stream: options.onToken !== undefined });
    }).finally(() => options.signal?.removeEventListener('abort', cancel));
  }

  /** A worker died or hung: take it out of rotation and start a replacement. */
  private replace(dead: WorkerSlot, reason: RestartReason): void {
    this.slots = this.slots.filter((s) => s !== dead);
    this.restarts[reason]++;
    this.onWorkersChanged();
    if (this.disposed) return;
    this.startWorker().then(
      (slot) => {
        if (this.disposed) return void slot.dispose();
        this.slots.push(slot);
        this.onWorkersChanged();
      },
      () => undefined, // it loaded once; a failing reload leaves fewer workers (GET /models shows them)
    );
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    clearInterval(this.watchdog);
    const slots = this.slots;
    this.slots = [];
    await Promise.all(slots.map((slot) => slot.dispose()));
  }
}
