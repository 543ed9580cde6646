// The served models: each one's lifecycle (unloaded, resolving, loading, warming, ready, failed,
// unloading), loaded at start or on its first request (concurrent first requests share one load),
// kept within a memory budget by unloading the least recently used idle models, and the one place
// requests reach a model by name. A model that fails does not stop the others.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ModelConfigEntry } from '../config/schema.ts';
import { ModelRunner, type ModelInfo, type RunnerStats } from '../engine/runner.ts';
import {
  DEFAULT_BATCHING,
  Scheduler,
  type SchedulerStats,
  type SubmitOptions,
} from '../scheduler/scheduler.ts';
import { isServeError, ServeError } from '../errors.ts';
import { type DownloadProgress, type HubSettings, resolveModel, type ResolvedModel } from '../hub/index.ts';
import { loadHandler } from '../tasks/handler.ts';
import { compatibleTasks, inferTask, type ModelConfig, type TaskDefinition } from '../tasks/index.ts';
import { type Budget, type MemoryBudget, pickVictim } from './budget.ts';
import { checkLimits, type RequestLimits } from './limits.ts';
import { Sessions } from './sessions.ts';

export type { SubmitOptions as RunOptions, RunReport } from '../scheduler/scheduler.ts';
export type { Budget, MemoryBudget } from './budget.ts';

export const MODEL_STATES = [
  'unloaded',
  'resolving',
  'loading',
  'warming',
  'ready',
  'failed',
  'unloading',
] as const;
export type ModelState = (typeof MODEL_STATES)[number];

export interface ServedModel {
  name: string;
  source: string;
  state: ModelState;
  /** Loaded at start (eager), or on its first request (on_demand). */
  load: 'eager' | 'on_demand';
  /** What it is deployed for (a built-in task or its handler's); known once its config.json is read. */
  task?: string;
  /** The tasks requests may ask of it (the deployed one and those of the same model class). */
  tasks: string[];
  /** Path of its custom handler module, if it has one. */
  handler?: string;
  dtype: string;
  device: string;
  instances: number;
  revision?: string;
  commit?: string;
  info?: ModelInfo;
  /** Resident memory its load added to the process, measured (when a memory budget is set). */
  residentBytes?: number;
  /** Times it has been loaded (on demand, it loads again after being unloaded). */
  loads: number;
  error?: { code: string; message: string };
}

interface Entry {
  config: ModelConfigEntry;
  view: ServedModel;
  runner?: ModelRunner;
  scheduler?: Scheduler;
  /** Definitions of view.tasks, the deployed task first (kept when it is unloaded). */
  definitions: TaskDefinition[];
  /** The load in progress, shared by whoever needs the model meanwhile. */
  loading?: Promise<void>;
  unloading?: Promise<void>;
  /** Requests submitted and not yet answered: such a model is never unloaded. */
  inFlight: number;
  lastUsed: number;
  /** Sessions holding it loaded. */
  pins: number;
}

/** A model that can take requests, with what it can do. */
export type ReadyModel = ServedModel & { task: string; definitions: TaskDefinition[] };

export interface RegistryOptions {
  hub: HubSettings;
  /** Folders local model sources must be inside; absent: any. */
  localRoots?: readonly string[] | undefined;
  /** What one request may ask, below the tasks' own bounds. */
  limits?: RequestLimits | undefined;
  /** How many models, and how much memory, may be loaded at once. */
  memory?: MemoryBudget | undefined;
  onProgress?: (event: DownloadProgress) => void;
}

/** How long a request waits for its model to load before 503 + Retry-After (the load goes on). */
const DEFAULT_LOAD_WAIT_S = 30;

/** How often a load waiting for room looks again. */
const ROOM_POLL_MS = 50;

const LOADED: readonly ModelState[] = ['resolving', 'loading', 'warming', 'ready'];

export class Registry {
  private readonly entries = new Map<string, Entry>();
  /** Holds on models: a session's model stays loaded while it lives. */
  readonly sessions = new Sessions(this);
  private draining = false;
  private closed: ServeError | undefined;
  /** Loads one at a time under a budget: room is made for each, and its memory measured alone. */
  private loadQueue: Promise<unknown> = Promise.resolve();
  private readonly idleTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: RegistryOptions) {
    const idle = options.memory?.idle_unload_after_s;
    if (idle !== undefined) {
      this.idleTimer = setInterval(() => this.unloadIdle(idle * 1000), Math.min(idle * 250, 10_000)).unref();
    }
  }

  /** Registers a model and, unless it loads on demand, loads and warms it; a failure leaves it failed. */
  async add(model: ModelConfigEntry): Promise<ServedModel> {
    if (this.entries.has(model.name))
      throw new ServeError('invalid_config', `a model is already named ${model.name}`);
    const load = model.load ?? 'eager';
    const view: ServedModel = {
      name: model.name,
      source: model.source,
      state: 'unloaded',
      load,
      loads: 0,
      tasks: [],
      dtype: model.dtype ?? 'fp32',
      device: model.device ?? 'cpu',
      instances: model.instances ?? 1,
    };
    const entry: Entry = { config: model, view, definitions: [], inFlight: 0, lastUsed: 0, pins: 0 };
    this.entries.set(model.name, entry);
    if (load === 'eager') await this.load(entry);
    return view;
  }

  list(): ServedModel[] {
    return [...this.entries.values()].map((e) => e.view);
  }

  /** The model's queue and batches so far (absent while it is not loaded). */
  queue(name: string): SchedulerStats | undefined {
    return this.entries.get(name)?.scheduler?.stats;
  }

  /** The model's workers: their memory and restarts (absent while it is not loaded). */
  workers(name: string): RunnerStats | undefined {
    return this.entries.get(name)?.runner?.stats;
  }

  /** The memory budget and what uses it. */
  get budget(): Budget {
    const loaded = [...this.entries.values()].filter((e) => LOADED.includes(e.view.state));
    return {
      maxLoadedModels: this.options.memory?.max_loaded_models,
      maxBytes: this.options.memory?.max_bytes,
      loadedModels: loaded.length,
      loadedBytes: loaded.reduce((n, e) => n + (e.view.residentBytes ?? 0), 0),
    };
  }

  get(name: string): ServedModel {
    return this.entry(name).view;
  }

  private entry(name: string): Entry {
    const entry = this.entries.get(name);
    if (!entry) {
      const known = [...this.entries.keys()];
      throw new ServeError('model_not_found', `no model named "${name}" is served`, { models: known });
    }
    return entry;
  }

  /** A model that can take requests now (else model_not_ready, 503, with its state and reason). */
  ready(name: string): ReadyModel {
    const entry = this.entry(name);
    const view = entry.view;
    if (view.state !== 'ready' || !view.task) {
      const why = view.error ? `: ${view.error.message}` : '';
      throw new ServeError('model_not_ready', `model "${name}" is ${view.state}${why}`, {
        state: view.state,
      });
    }
    return { ...view, task: view.task, definitions: entry.definitions };
  }

  /**
   * The model, loaded first if it is not (one load for every request that waits for it). A request
   * waits up to load_wait_s, then gets 503 + Retry-After while the load goes on.
   */
  async acquire(name: string): Promise<ReadyModel> {
    const entry = this.entry(name);
    if (entry.view.state === 'ready') return this.ready(name);
    if (this.closed) throw this.closed;
    // A model configured to load at start that failed stays failed (its reason is shown); one
    // loaded on demand is tried again.
    if (entry.view.state === 'failed' && entry.view.load === 'eager') return this.ready(name);
    const waitS = this.options.memory?.load_wait_s ?? DEFAULT_LOAD_WAIT_S;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((settle) => (timer = setTimeout(() => settle('late'), waitS * 1000)));
    const outcome = await Promise.race([this.load(entry), late]).finally(() => clearTimeout(timer));
    if (outcome === 'late') {
      throw new ServeError('model_not_ready', `model "${name}" is ${entry.view.state}; retry shortly`, {
        state: entry.view.state,
      });
    }
    return this.ready(name);
  }

  /**
   * There are models, every one loaded at start is warm with a worker running, and the server is not
   * draining (models loaded on demand need not be loaded to be ready for).
   */
  get allReady(): boolean {
    const eager = [...this.entries.values()].filter((e) => e.view.load === 'eager');
    const serving = (e: Entry): boolean => e.view.state === 'ready' && (e.runner?.workers ?? 0) > 0;
    return !this.draining && this.entries.size > 0 && eager.every(serving);
  }

  /**
   * Queues a request for the model's workers (batched with others where the task allows), loading
   * the model first if it was unloaded meanwhile.
   */
  async run(
    name: string,
    task: string,
    inputs: unknown,
    parameters: Record<string, unknown>,
    options: SubmitOptions = {},
  ): Promise<unknown> {
    const entry = this.entry(name);
    entry.inFlight++;
    try {
      const view = await this.acquire(name);
      const definition = view.definitions.find((d) => d.name === task);
      if (!definition) {
        throw new ServeError(
          'task_not_supported',
          `model "${name}" does ${view.task}; it cannot do ${task}`,
          {
            tasks: view.tasks,
          },
        );
      }
      if (!entry.scheduler) throw new ServeError('model_not_ready', `model "${name}" has no running worker`);
      const bounded = this.withinLimits(inputs, parameters, generates(definition));
      return await entry.scheduler.submit(definition, inputs, bounded, options);
    } finally {
      entry.inFlight--;
      entry.lastUsed = performance.now();
    }
  }

  /**
   * Refuses a request past the operator's limits (422); the parameters to run it with. A route that
   * splits one request into several checks the whole first.
   */
  withinLimits(
    inputs: unknown,
    parameters: Record<string, unknown>,
    generation = false,
  ): Record<string, unknown> {
    return this.options.limits
      ? checkLimits(this.options.limits, inputs, parameters, generation)
      : parameters;
  }

  /** A session holds the model loaded: it is not unloaded while pinned. */
  pin(name: string): void {
    this.entry(name).pins++;
  }

  unpin(name: string): void {
    const entry = this.entries.get(name);
    if (entry && entry.pins > 0) entry.pins--;
  }

  /** Readiness goes down (load balancers stop sending) while what is in flight goes on. */
  drain(): void {
    this.draining = true;
  }

  /** Stops every model taking work: what waits or runs fails with `error`; nothing loads any more. */
  close(error: ServeError): void {
    this.closed = error;
    for (const entry of this.entries.values()) entry.scheduler?.close(error);
  }

  async dispose(): Promise<void> {
    clearInterval(this.idleTimer);
    this.sessions.clear();
    await Promise.all([...this.entries.values()].map((e) => e.runner?.dispose()));
    this.entries.clear();
  }

  /** Loads the model, or joins the load in progress. */
  private load(entry: Entry): Promise<void> {
    entry.loading ??= (async () => {
      await entry.unloading;
      if (!this.options.memory) return this.loadNow(entry);
      const turn = this.loadQueue.then(async () => {
        await this.makeRoom(entry);
        const before = process.memoryUsage().rss;
        await this.loadNow(entry);
        if (entry.view.state === 'ready') {
          entry.view.residentBytes = Math.max(0, process.memoryUsage().rss - before);
        }
      });
      this.loadQueue = turn.catch(() => undefined);
      return turn;
    })().finally(() => (entry.loading = undefined));
    return entry.loading;
  }

  /**
   * Unloads least recently used idle models until the budget has room for `entry`; while every loaded
   * model is busy or pinned, waits for one to become idle, up to load_wait_s.
   */
  private async makeRoom(entry: Entry): Promise<void> {
    const deadline = performance.now() + (this.options.memory?.load_wait_s ?? DEFAULT_LOAD_WAIT_S) * 1000;
    for (;;) {
      const loaded = [...this.entries.values()].filter((e) => e !== entry && LOADED.includes(e.view.state));
      const victim = pickVictim(
        this.options.memory ?? {},
        loaded.map((e) => ({
          id: e.view.name,
          bytes: e.view.residentBytes ?? 0,
          lastUsed: e.lastUsed,
          evictable: e.view.state === 'ready' && e.inFlight === 0 && e.pins === 0 && !e.loading,
        })),
        entry.view.residentBytes ?? 0,
      );
      if (victim === 'fits') return;
      if (victim !== 'full') {
        await this.unload(this.entry(victim));
        continue;
      }
      if (performance.now() > deadline) {
        const { loadedModels, loadedBytes } = this.budget;
        throw new ServeError(
          'overloaded',
          `no room to load model "${entry.view.name}": every loaded model is in use or pinned; retry shortly`,
          { loaded_models: loadedModels, loaded_bytes: loadedBytes },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, ROOM_POLL_MS));
    }
  }

  /** Stops the model's workers; it loads again on its next request. */
  private unload(entry: Entry): Promise<void> {
    entry.unloading ??= (async () => {
      entry.view.state = 'unloading';
      entry.scheduler?.close(new ServeError('model_not_ready', 'the model was unloaded; retry'));
      await entry.runner?.dispose();
      entry.runner = undefined;
      entry.scheduler = undefined;
      delete entry.view.info;
      entry.view.state = 'unloaded';
    })().finally(() => (entry.unloading = undefined));
    return entry.unloading;
  }

  private unloadIdle(idleMs: number): void {
    const now = performance.now();
    for (const entry of this.entries.values()) {
      const idle = entry.view.state === 'ready' && entry.inFlight === 0 && entry.pins === 0 && !entry.loading;
      if (idle && now - entry.lastUsed > idleMs) void this.unload(entry);
    }
  }

  private async loadNow(entry: Entry): Promise<void> {
    const { config: model, view } = entry;
    delete view.error;
    view.state = 'resolving';
    view.loads++;
    try {
      const resolved = await resolveModel(model.source, {
        dtype: view.dtype,
        settings: this.options.hub,
        onProgress: this.options.onProgress,
        localRoots: this.options.localRoots,
      });
      Object.assign(view, { revision: resolved.revision, commit: resolved.commit });
      const handler = model.handler === undefined ? undefined : resolve(model.handler);
      entry.definitions = handler
        ? [await loadHandler(handler)]
        : compatibleTasks(model.task ?? inferTask(readConfig(resolved)));
      const [deployed] = entry.definitions as [TaskDefinition];
      Object.assign(view, {
        task: deployed.name,
        tasks: entry.definitions.map((d) => d.name),
        handler,
        state: 'loading',
      });
      const runner = await ModelRunner.start(
        {
          path: resolved.path,
          task: deployed.name,
          dtype: view.dtype,
          device: model.device ?? 'cpu',
          instances: view.instances,
          ...(model.threads ? { threads: model.threads } : {}),
          ...(model.hang_timeout_s ? { hangTimeoutMs: model.hang_timeout_s * 1000 } : {}),
          ...(model.max_worker_growth_mb
            ? { maxWorkerGrowthBytes: model.max_worker_growth_mb * 2 ** 20 }
            : {}),
          ...(handler ? { handler } : {}),
        },
        () => (view.state = 'warming'),
      );
      const scheduler = new Scheduler(
        (task, inputs, parameters, options) => runner.run(task, inputs, parameters, options),
        () => runner.workers,
        { ...DEFAULT_BATCHING, ...model.batching },
      );
      runner.onWorkersChanged = () => scheduler.wake();
      Object.assign(entry, { runner, scheduler, lastUsed: performance.now() });
      Object.assign(view, { state: 'ready', info: runner.info });
    } catch (error) {
      const failure = isServeError(error) ? error : new ServeError('model_load_failed', String(error));
      Object.assign(view, { state: 'failed', error: { code: failure.code, message: failure.message } });
    }
  }
}

/** Whether the task generates text (takes max_new_tokens). */
const generates = (task: TaskDefinition): boolean =>
  'max_new_tokens' in ((task.parameters as { properties?: object }).properties ?? {});

function readConfig(resolved: ResolvedModel): ModelConfig {
  return JSON.parse(readFileSync(join(resolved.path, 'config.json'), 'utf8')) as ModelConfig;
}
