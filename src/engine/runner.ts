// The main thread's handle on one loaded model: its worker threads (instances), requests dispatched
// to the least busy one, and failures contained (a dead worker fails its own requests with a clear
// error and is replaced; the rest of the server carries on).
import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ServeError } from '../errors.ts';
import type { StreamedToken, RunMeter } from '../tasks/types.ts';
import type { Device, FromWorker, LoadSpec, ModelInfo, ToWorker, WireError } from './protocol.ts';

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
}

// Run as JavaScript once built; as TypeScript under tsx in development, where the worker registers
// tsx itself before importing its entry (Node 20 does not apply --import hooks to a worker's entry).
const WORKER_URL = new URL(`./worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

function spawnWorker(spec: LoadSpec): Worker {
  const options = { workerData: spec, name: `hubserve:${spec.task}` };
  if (!WORKER_URL.pathname.endsWith('.ts')) return new Worker(WORKER_URL, options);
  const bootstrap = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
    .then(({ register }) => { register(); return import(${JSON.stringify(WORKER_URL.href)}); })`;
  return new Worker(bootstrap, { ...options, eval: true });
}

const fromWire = (error: WireError): ServeError => new ServeError(error.code, error.message, error.details);

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

  private constructor(
    readonly worker: Worker,
    readonly info: ModelInfo,
    onExit: (slot: WorkerSlot) => void,
  ) {
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'token') return this.pending.get(message.id)?.onToken?.(message.token);
      if (message.type !== 'result' && message.type !== 'failed') return;
      const pending = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.type === 'result') {
        pending?.onMeter?.(message.meter);
        pending?.resolve(message.output);
      } else pending?.reject(fromWire(message.error));
    });
    let dead = false;
    const died = (reason: string): void => {
      if (dead) return; // 'error' is followed by 'exit': one death, one replacement
      dead = true;
      for (const p of this.pending.values()) {
        p.reject(new ServeError('worker_failed', `the model's worker stopped (${reason}); try again`));
      }
      this.pending.clear();
      if (!this.disposing) onExit(this);
    };
    worker.on('error', (error) => died(error.message));
    worker.on('exit', (code) => died(`exit code ${code}`));
  }

  static start(spec: LoadSpec, onExit: (slot: WorkerSlot) => void): Promise<WorkerSlot> {
    const worker = spawnWorker(spec);
    return new Promise((resolve, reject) => {
      const failed = (error: Error): void => reject(new ServeError('model_load_failed', error.message));
      const exited = (code: number): void =>
        failed(new Error(`the worker exited (code ${code}) while loading`));
      worker.once('error', failed);
      worker.once('exit', exited);
      worker.once('message', (message: FromWorker) => {
        worker.off('error', failed);
        worker.off('exit', exited);
        if (message.type === 'ready') resolve(new WorkerSlot(worker, message.info, onExit));
        else {
          void worker.terminate();
          const error = message.type === 'load-failed' ? fromWire(message.error) : new Error(message.type);
          reject(
            error instanceof ServeError && error.code !== 'internal'
              ? error
              : new ServeError('model_load_failed', error.message),
          );
        }
      });
    });
  }

  send(message: ToWorker): void {
    this.worker.postMessage(message);
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
    await this.worker.terminate();
  }
}

export class ModelRunner {
  private slots: WorkerSlot[] = [];
  private nextId = 0;
  private disposed = false;

  /** Called when workers come or go (the scheduler then dispatches or refuses). */
  onWorkersChanged: () => void = () => undefined;

  private constructor(private readonly spec: LoadSpec) {}

  /** Loads and warms every instance; resolves once the model can take traffic. */
  static async start(model: EngineModelSpec): Promise<ModelRunner> {
    const threads = model.threads ?? Math.max(1, Math.floor(availableParallelism() / model.instances));
    const spec: LoadSpec = {
      path: model.path,
      task: model.task,
      dtype: model.dtype,
      device: model.device,
      threads,
      ...(model.handler ? { handler: model.handler } : {}),
    };
    const runner = new ModelRunner(spec);
    const started = await Promise.allSettled(
      Array.from({ length: model.instances }, () => WorkerSlot.start(spec, (slot) => runner.replace(slot))),
    );
    runner.slots = started.filter((s) => s.status === 'fulfilled').map((s) => s.value);
    const failure = started.find((s) => s.status === 'rejected');
    if (failure) {
      await Promise.all(runner.slots.map((slot) => slot.dispose()));
      throw failure.reason;
    }
    return runner;
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

  /** A worker died: take it out of rotation and start a replacement. */
  private replace(dead: WorkerSlot): void {
    this.slots = this.slots.filter((s) => s !== dead);
    this.onWorkersChanged();
    if (this.disposed) return;
    WorkerSlot.start(this.spec, (slot) => this.replace(slot)).then(
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
    const slots = this.slots;
    this.slots = [];
    await Promise.all(slots.map((slot) => slot.dispose()));
  }
}
