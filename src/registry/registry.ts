// The served models: each version's lifecycle (unloaded, resolving, downloading, converting, loading,
// warming, ready, failed, unloading), loaded at start or on its first request (concurrent first requests share one load),
// kept within a memory budget by unloading the least recently used idle models, and the one place
// requests reach a model: by name (routed to a version, see routing.ts) or by a version's key. Versions
// are added, reconfigured and removed while serving without failing a request. A model that fails
// does not stop the others.
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
import {
  type ConversionInfo,
  type DownloadProgress,
  type HubSettings,
  resolveModel,
  type ResolvedModel,
} from '../hub/index.ts';
import { loadHandler } from '../tasks/custom.ts';
import { compatibleTasks, inferTask, type ModelConfig, type TaskDefinition } from '../tasks/index.ts';
import { type Budget, type MemoryBudget, pickVictim } from './budget.ts';
import { FIRST_VERSION, parseRef } from '../config/references.ts';
import { checkLimits, type RequestLimits } from './limits.ts';
import {
  byRelease,
  checkSplit,
  defaultOf,
  notFound,
  pickVersion,
  type Route,
  versionKey,
  type Viewer,
} from './routing.ts';
import { Sessions } from './sessions.ts';

export type { RunReport, SubmitOptions } from '../scheduler/scheduler.ts';
export type { Budget, MemoryBudget } from './budget.ts';
export type { Viewer } from './routing.ts';

export const MODEL_STATES = [
  'unloaded',
  'resolving',
  'downloading',
  'converting',
  'loading',
  'warming',
  'ready',
  'failed',
  'unloading',
] as const;
export type ModelState = (typeof MODEL_STATES)[number];

export interface ServedModel {
  /** What requests call it. */
  name: string;
  version: string;
  /** This version's own key (`name@version`, `tenant:name@version` for a tenant's own). */
  key: string;
  /** The tenant whose private model it is; absent: shared. */
  tenant?: string;
  /** How logs, metrics and /ready name it: its name, or its key when it has versions or a tenant. */
  label: string;
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
  /** Where its weights came from: the repo's ONNX files, or its checkpoint converted. */
  weights?: 'onnx' | 'checkpoint';
  conversion?: ConversionInfo;
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
  /**
   * From the configuration (readiness waits for it), or added while serving (management API, model
   * repository), whose failure must not take the server out of its load balancer.
   */
  origin: Origin;
}

export type Origin = 'config' | 'runtime';

/** A tenant's own models (private behind their names) and, if listed, the shared ones it may use. */
export interface TenantModels {
  id: string;
  models?: ModelConfigEntry[] | undefined;
  /** Shared models it may use; absent: all of them. */
  allow?: string[] | undefined;
}

/** How a model's versions share its traffic, as described and as set. */
export interface Routing {
  default_version: string;
  versions: string[];
  split?: Record<string, number> | undefined;
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

/** How long a removed or replaced version may take to finish its requests before it is stopped. */
const RETIRE_WAIT_MS = 60_000;

const LOADED: readonly ModelState[] = [
  'resolving',
  'downloading',
  'converting',
  'loading',
  'warming',
  'ready',
];

export class Registry {
  /** Every deployed version, by key. */
  private readonly entries = new Map<string, Entry>();
  /** Every model's versions and traffic, by `tenant:name` (shared models: by name). */
  private readonly routes = new Map<string, Route>();
  /** Keys of removed versions, to the route their late requests go to instead. */
  private readonly retired = new Map<string, string>();
  /** Tenants' allow-lists of shared models. */
  private readonly allowed = new Map<string, Set<string>>();
  /** Holds on models: a session's model stays loaded while it lives. */
  readonly sessions = new Sessions(this);
  /** Reconfigurations in progress, by key: one at a time per version. */
  private readonly reconfiguring = new Map<string, Promise<void>>();
  /** Copies stopping after a removal or a reconfiguration: still resident, so still in the budget. */
  private readonly retiring = new Set<Entry>();
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

  /**
   * Registers a model version (a tenant's own when `tenant` is given) and, unless it loads on demand,
   * loads and warms it; a failure leaves it failed. Requests reach it once it is registered.
   */
  async add(model: ModelConfigEntry, tenant?: string, origin: Origin = 'config'): Promise<ServedModel> {
    const entry = this.newEntry(model, tenant, origin);
    const { key, name, version } = entry.view;
    if (this.entries.has(key)) {
      throw new ServeError('model_exists', `model "${name}" already has a version ${version}`);
    }
    const route = this.routeOf(name, tenant) ?? {
      name,
      tenant,
      versions: new Set<string>(),
      held: new Set<string>(),
    };
    this.routes.set(routeKey(name, tenant), route);
    this.entries.set(key, entry);
    this.retired.delete(key);
    route.versions.add(version);
    // A version loaded now takes traffic (as the default, or by weight) once it is warm.
    if (entry.view.load === 'eager') {
      route.held.add(version);
      await this.load(entry);
      if (entry.view.state !== 'ready' || this.entries.get(key) !== entry) return entry.view;
      route.held.delete(version);
    }
    if (model.default) route.defaultVersion = version;
    if (model.weight !== undefined) route.split = { ...route.split, [version]: model.weight };
    return entry.view;
  }

  /** Sets the tenants: their own models are added, their allow-lists apply at once. */
  async addTenants(tenants: readonly TenantModels[]): Promise<ServedModel[]> {
    for (const tenant of tenants) {
      if (tenant.allow) this.allowed.set(tenant.id, new Set(tenant.allow));
    }
    const own = tenants.flatMap((t) => (t.models ?? []).map((m) => this.add(m, t.id)));
    return Promise.all(own);
  }

  /**
   * Every version, or only those `viewer` may use: shared ones (within its allow-list) and its own.
   */
  list(viewer?: Viewer): ServedModel[] {
    const all = [...this.entries.values()].map((e) => e.view);
    if (!viewer) return all;
    const tenant = viewer.tenant || undefined;
    const own = new Set(all.filter((m) => tenant && m.tenant === tenant).map((m) => m.name));
    return all.filter((m) =>
      m.tenant === undefined ? !own.has(m.name) && this.mayUse(viewer, m.name) : m.tenant === tenant,
    );
  }

  /**
   * The key of the version a request for `ref` (`name` or `name@version`) goes to: the viewer's own
   * model of that name, else the shared one if its allow-list permits; the version asked for, else the
   * traffic split's pick for its user, else the default. Unknown and forbidden look the same (404).
   */
  route(ref: string, viewer: Viewer = {}): string {
    const parsed = parseRef(ref);
    const route =
      parsed &&
      ((viewer.tenant ? this.routeOf(parsed.name, viewer.tenant) : undefined) ??
        (this.mayUse(viewer, parsed.name) ? this.routeOf(parsed.name) : undefined));
    if (!parsed || !route) throw notFound(ref);
    if (parsed.version === undefined)
      return versionKey(route.name, pickVersion(route, viewer.user), route.tenant);
    if (!route.versions.has(parsed.version)) {
      throw new ServeError('model_not_found', `model "${parsed.name}" has no version "${parsed.version}"`, {
        versions: [...route.versions].sort(byRelease),
      });
    }
    return versionKey(route.name, parsed.version, route.tenant);
  }

  /** A model's versions, default and split (`tenant` for a tenant's own). */
  routing(name: string, tenant?: string): Routing {
    const route = this.routeOf(name, tenant);
    if (!route) throw notFound(name);
    return {
      default_version: defaultOf(route),
      versions: [...route.versions].sort(byRelease),
      ...(route.split ? { split: { ...route.split } } : {}),
    };
  }

  /**
   * Sets the default version and/or the traffic split (null: no split) of a model: requests routed
   * from now on follow it; requests already routed finish where they are.
   */
  setRouting(
    name: string,
    change: { default_version?: string | undefined; split?: Record<string, number> | null | undefined },
    tenant?: string,
  ): Routing {
    const route = this.routeOf(name, tenant);
    if (!route) throw notFound(name);
    if (change.default_version !== undefined && !route.versions.has(change.default_version)) {
      throw new ServeError('invalid_request', `model "${name}" has no version "${change.default_version}"`);
    }
    if (change.split) checkSplit(route, change.split);
    if (change.default_version !== undefined) route.defaultVersion = change.default_version;
    if (change.split !== undefined) route.split = change.split ?? undefined;
    return this.routing(name, tenant);
  }

  /**
   * Removes a version: it takes no new requests at once (a request routed to it a moment ago goes to
   * the default version instead), those it has finish, then its workers stop.
   */
  async remove(key: string): Promise<void> {
    const entry = this.own(key);
    const { name, version, tenant } = entry.view;
    const route = this.routeOf(name, tenant);
    this.entries.delete(key);
    this.sessions.endFor(key);
    if (route) {
      route.versions.delete(version);
      route.held.delete(version);
      if (route.split) {
        route.split = Object.fromEntries(Object.entries(route.split).filter(([v]) => v !== version));
      }
      if (route.versions.size === 0) this.routes.delete(routeKey(name, tenant));
      else this.retired.set(key, routeKey(name, tenant));
    }
    await this.retire(entry);
  }

  /**
   * Changes how a version runs (instances, batching, threads, ...; with `replace`, the whole entry): a
   * new copy loads and warms beside it, takes its key, and the old one finishes its requests and
   * stops. No request fails meanwhile. Changes to one version are applied one after another.
   */
  reconfigure(key: string, change: Partial<ModelConfigEntry>, replace = false): Promise<ServedModel> {
    const turn = (this.reconfiguring.get(key) ?? Promise.resolve()).then(() =>
      this.reconfigureNow(key, change, replace),
    );
    const settled = turn
      .catch(() => undefined)
      .then(() => {
        if (this.reconfiguring.get(key) === settled) this.reconfiguring.delete(key);
      });
    this.reconfiguring.set(key, settled);
    return turn;
  }

  private async reconfigureNow(
    key: string,
    change: Partial<ModelConfigEntry>,
    replace: boolean,
  ): Promise<ServedModel> {
    const old = this.own(key);
    const config = replace ? ({ ...change } as ModelConfigEntry) : { ...old.config, ...change };
    const next = this.newEntry(config, old.view.tenant, old.origin);
    next.view.loads = old.view.loads;
    if (next.view.load === 'eager' || old.view.state === 'ready' || old.loading) {
      // The running copy serves until the new one is warm: the budget must not unload it meanwhile.
      old.pins++;
      await this.load(next).finally(() => old.pins--);
      const failed = next.view.state !== 'ready';
      if (failed || this.entries.get(key) !== old) {
        await this.unload(next);
        throw failed
          ? new ServeError('model_load_failed', next.view.error?.message ?? 'the new copy did not load')
          : new ServeError('model_not_found', `version ${next.view.name}@${next.view.version} was removed`);
      }
    }
    next.pins = old.pins;
    this.entries.set(key, next);
    if (next.view.state === 'ready')
      this.routeOf(next.view.name, next.view.tenant)?.held.delete(next.view.version);
    await this.retire(old);
    return next.view;
  }

  /** The version's queue and batches so far (absent while it is not loaded). */
  queue(key: string): SchedulerStats | undefined {
    return this.entries.get(key)?.scheduler?.stats;
  }

  /** The version's workers: their memory and restarts (absent while it is not loaded). */
  workers(key: string): RunnerStats | undefined {
    return this.entries.get(key)?.runner?.stats;
  }

  /** The memory budget and what uses it. */
  get budget(): Budget {
    const loaded = this.resident();
    return {
      maxLoadedModels: this.options.memory?.max_loaded_models,
      maxBytes: this.options.memory?.max_bytes,
      loadedModels: loaded.length,
      loadedBytes: loaded.reduce((n, e) => n + (e.view.residentBytes ?? 0), 0),
    };
  }

  /** A version by its key (a removed version's key: its model's default version). */
  get(key: string): ServedModel {
    return this.entry(key).view;
  }

  /** The version of exactly this key, if it is registered. */
  find(key: string): ServedModel | undefined {
    return this.entries.get(key)?.view;
  }

  /** The entry of exactly this key (removal and reconfiguration never act on another version). */
  private own(key: string): Entry {
    const entry = this.entries.get(key);
    if (!entry) throw new ServeError('model_not_found', `no version ${key.replace(/^[^:]*:/, '')} is served`);
    return entry;
  }

  private routeOf(name: string, tenant?: string): Route | undefined {
    return this.routes.get(routeKey(name, tenant));
  }

  private mayUse(viewer: Viewer, name: string): boolean {
    const allowed = viewer.tenant ? this.allowed.get(viewer.tenant) : undefined;
    return !allowed || allowed.has(name);
  }

  private newEntry(model: ModelConfigEntry, tenant: string | undefined, origin: Origin): Entry {
    const version = model.version ?? FIRST_VERSION;
    const key = versionKey(model.name, version, tenant);
    const view: ServedModel = {
      name: model.name,
      version,
      key,
      label: model.version === undefined && !tenant ? model.name : key,
      ...(tenant ? { tenant } : {}),
      source: model.source,
      state: 'unloaded',
      load: model.load ?? 'eager',
      loads: 0,
      tasks: [],
      dtype: model.dtype ?? 'fp32',
      device: model.device ?? 'cpu',
      instances: model.instances ?? 1,
    };
    return { config: model, view, definitions: [], inFlight: 0, lastUsed: 0, pins: 0, origin };
  }

  /**
   * The entry of a version's key (route() turns what a request names into one). A removed version's
   * key leads to its model's default version, so a request routed just before a swap still succeeds.
   */
  private entry(key: string): Entry {
    const entry = this.entries.get(key);
    if (entry) return entry;
    const forwarded = this.retired.get(key);
    const route = forwarded === undefined ? undefined : this.routes.get(forwarded);
    if (route) return this.entry(versionKey(route.name, defaultOf(route), route.tenant));
    // The key without its tenant: a caller only ever holds keys of what it may see.
    throw new ServeError('model_not_found', `no model named "${key.replace(/^[^:]*:/, '')}" is served`);
  }

  /** A model that can take requests now (else model_not_ready, 503, with its state and reason). */
  ready(key: string): ReadyModel {
    return readyModel(this.entry(key));
  }

  /**
   * The model, loaded first if it is not (one load for every request that waits for it). A request
   * waits up to load_wait_s, then gets 503 + Retry-After while the load goes on.
   */
  acquire(key: string): Promise<ReadyModel> {
    return this.acquireEntry(this.entry(key));
  }

  private async acquireEntry(entry: Entry): Promise<ReadyModel> {
    const { view } = entry;
    if (view.state === 'ready') return readyModel(entry);
    if (this.closed) throw this.closed;
    // A model configured to load at start that failed stays failed (its reason is shown); one
    // loaded on demand is tried again.
    if (view.state === 'failed' && view.load === 'eager') return readyModel(entry);
    const waitS = this.options.memory?.load_wait_s ?? DEFAULT_LOAD_WAIT_S;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((settle) => (timer = setTimeout(() => settle('late'), waitS * 1000)));
    const outcome = await Promise.race([this.load(entry), late]).finally(() => clearTimeout(timer));
    if (outcome === 'late') {
      throw new ServeError('model_not_ready', `model "${view.name}" is ${view.state}; retry shortly`, {
        state: view.state,
      });
    }
    return readyModel(entry);
  }

  /**
   * There are models, every one loaded at start is warm with a worker running, and the server is not
   * draining (models loaded on demand need not be loaded to be ready for).
   */
  get allReady(): boolean {
    const eager = [...this.entries.values()].filter((e) => e.view.load === 'eager' && e.origin === 'config');
    const serving = (e: Entry): boolean => e.view.state === 'ready' && (e.runner?.workers ?? 0) > 0;
    return !this.draining && this.entries.size > 0 && eager.every(serving);
  }

  /**
   * Queues a request for the version's workers (batched with others where the task allows), loading
   * it first if it was unloaded meanwhile.
   */
  async run(
    key: string,
    task: string,
    inputs: unknown,
    parameters: Record<string, unknown>,
    options: SubmitOptions = {},
  ): Promise<unknown> {
    const entry = this.entry(key);
    entry.inFlight++;
    try {
      const view = await this.acquireEntry(entry);
      const definition = entry.definitions.find((d) => d.name === task);
      if (!definition) {
        throw new ServeError(
          'task_not_supported',
          `model "${view.name}" does ${view.task}; it cannot do ${task}`,
          { tasks: view.tasks },
        );
      }
      if (!entry.scheduler)
        throw new ServeError('model_not_ready', `model "${view.name}" has no running worker`);
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
    this.routes.clear();
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
      const loaded = this.resident().filter((e) => e !== entry);
      const victim = pickVictim(
        this.options.memory ?? {},
        loaded.map((e) => ({
          id: e.view.key,
          bytes: e.view.residentBytes ?? 0,
          lastUsed: e.lastUsed,
          evictable:
            e.view.state === 'ready' &&
            e.inFlight === 0 &&
            e.pins === 0 &&
            !e.loading &&
            !this.retiring.has(e),
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

  /** Waits for the requests a version has to finish (within shutdown's patience), then stops it. */
  private async retire(entry: Entry): Promise<void> {
    this.retiring.add(entry);
    const deadline = performance.now() + RETIRE_WAIT_MS;
    try {
      while ((entry.inFlight > 0 || entry.loading) && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, ROOM_POLL_MS));
      }
      await this.unload(entry);
    } finally {
      this.retiring.delete(entry);
    }
  }

  /** Every copy holding memory: the registered versions loaded or loading, and those stopping. */
  private resident(): Entry[] {
    return [...this.entries.values(), ...this.retiring].filter((e) => LOADED.includes(e.view.state));
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
        weights: model.weights,
        onConvert: () => (view.state = 'converting'),
        settings: this.options.hub,
        onProgress: (event) => {
          if (event.type === 'start') view.state = 'downloading';
          this.options.onProgress?.(event);
        },
        localRoots: this.options.localRoots,
      });
      Object.assign(view, {
        revision: resolved.revision,
        commit: resolved.commit,
        weights: resolved.weights,
        conversion: resolved.conversion,
      });
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

const routeKey = (name: string, tenant?: string): string => (tenant ? `${tenant}:${name}` : name);

function readyModel({ view, definitions }: Entry): ReadyModel {
  if (view.state !== 'ready' || !view.task) {
    const why = view.error ? `: ${view.error.message}` : '';
    throw new ServeError('model_not_ready', `model "${view.name}" is ${view.state}${why}`, {
      state: view.state,
    });
  }
  return { ...view, task: view.task, definitions };
}

/** Whether the task generates text (takes max_new_tokens). */
const generates = (task: TaskDefinition): boolean =>
  'max_new_tokens' in ((task.parameters as { properties?: object }).properties ?? {});

function readConfig(resolved: ResolvedModel): ModelConfig {
  return JSON.parse(readFileSync(join(resolved.path, 'config.json'), 'utf8')) as ModelConfig;
}
