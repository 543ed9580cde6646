// A model repository folder, as Triton users know it, kept in step with the registry while serving:
//
//   <repository>/<name>/config.yaml        optional: task, dtype, device, instances, batching, load,
//                                           version_policy (latest: {num_versions}, all, specific)
//   <repository>/<name>/<version>/...      Hub-layout files (config.json, tokenizer.json, onnx/...)
//   <repository>/<name>/<version>/source.yaml   or a pointer: `source: org/name@revision`
//
// Versions dropped in are served once their files stop changing (two looks in a row alike), the
// latest becoming the default; removed ones are drained and stopped; a version whose files or
// config change is reloaded beside the running copy, which serves until the new one is warm.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Type, { type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { parse as parseYaml } from 'yaml';
import { type ModelConfigEntry, ModelSchema } from '../config/schema.ts';
import type { Registry } from './registry.ts';
import { VERSION_PATTERN } from '../config/references.ts';
import { byRelease, versionKey } from './routing.ts';

/** A model entry's settings, less what the folder itself says (name, version, source). */
const settings = Type.Omit(ModelSchema, ['name', 'source', 'version', 'default', 'weight']).properties;

/** `<name>/config.yaml`: how every version of the model runs, and which versions are served. */
export const RepositoryModelSchema = Type.Object(
  {
    ...settings,
    version_policy: Type.Optional(
      Type.Union([
        Type.Object(
          {
            latest: Type.Object(
              { num_versions: Type.Integer({ minimum: 1 }) },
              { additionalProperties: false },
            ),
          },
          { additionalProperties: false },
        ),
        Type.Object(
          { all: Type.Object({}, { additionalProperties: false }) },
          { additionalProperties: false },
        ),
        Type.Object(
          {
            specific: Type.Object(
              { versions: Type.Array(Type.Union([Type.String(), Type.Integer()]), { minItems: 1 }) },
              { additionalProperties: false },
            ),
          },
          { additionalProperties: false },
        ),
      ]),
    ),
  },
  { additionalProperties: false },
);
type RepositoryModel = Static<typeof RepositoryModelSchema>;
type Policy = NonNullable<RepositoryModel['version_policy']>;

const checkModel = Compile(RepositoryModelSchema);
const SOURCE_POINTER = 'source.yaml';
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const VERSION = new RegExp(VERSION_PATTERN);

export interface RepositoryLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

/** A version found in the folder: what to register, its model's policy, a fingerprint of its files and config. */
interface Found {
  entry: ModelConfigEntry;
  policy: Policy | undefined;
  fingerprint: string;
}

/** What one look at the folder saw. */
interface Scan {
  /** Every version holding a model, by key. */
  found: Map<string, Found>;
  /** Models whose folder could not be read this time (a config.yaml half written): left as they are. */
  unreadable: Set<string>;
}

export class ModelRepository {
  /** Keys this repository registered: it removes only those. */
  private readonly owned = new Set<string>();
  /** The fingerprint each version was last loaded (or tried) from: a failure is not retried until it changes. */
  private readonly tried = new Map<string, string>();
  /** What the previous look saw: a version is taken once two looks in a row agree. */
  private previous: Scan = { found: new Map(), unreadable: new Set() };
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> = Promise.resolve();

  constructor(
    private readonly root: string,
    private readonly registry: Registry,
    private readonly log: RepositoryLog,
  ) {}

  /** Serves what the folder holds now (no waiting for files to settle at start), then looks again every `pollS`. */
  async start(pollS: number): Promise<void> {
    this.previous = this.scan();
    await this.sync(this.previous, () => true);
    this.timer = setInterval(() => void this.look(), pollS * 1000).unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One look: versions whose files are as they were at the previous look may be loaded. */
  look(): Promise<void> {
    this.syncing = this.syncing
      .then(async () => {
        const before = this.previous.found;
        const now = this.scan();
        this.previous = now;
        await this.sync(now, (key) => before.get(key)?.fingerprint === now.found.get(key)?.fingerprint);
      })
      .catch((error: unknown) =>
        this.log.warn({ err: error }, 'repository: a look failed; next look goes on'),
      );
    return this.syncing;
  }

  /**
   * Loads the versions each model's policy chooses whose files have settled (new ones registered,
   * changed ones reloaded beside the running copy), then removes versions no longer chosen, but only
   * once every chosen version of their model serves: a new latest version is warm before the one it
   * replaces stops, and one that cannot load leaves the old one serving.
   */
  private async sync(scan: Scan, settled: (key: string) => boolean): Promise<void> {
    const chosen = choose(scan.found);
    const loads: Promise<void>[] = [];
    for (const versions of chosen.values()) {
      for (const [key, found] of versions) {
        if (!settled(key) || this.tried.get(key) === found.fingerprint) continue;
        this.tried.set(key, found.fingerprint);
        loads.push(this.owned.has(key) ? this.reload(key, found) : this.add(key, found));
      }
    }
    await Promise.all(loads);
    const gone = [...this.owned].filter((key) => {
      const name = key.slice(0, key.lastIndexOf('@'));
      if (scan.unreadable.has(name)) return false;
      const versions = chosen.get(name) ?? [];
      if (versions.some(([k]) => k === key)) return false;
      return versions.every(([k]) => this.serves(k));
    });
    await Promise.all(gone.map((key) => this.remove(key)));
  }

  /** Whether the version takes requests: warm, or loading on its first request. */
  private serves(key: string): boolean {
    const model = this.registry.find(key);
    return model?.state === 'ready' || (model?.load === 'on_demand' && model.state !== 'failed');
  }

  private async add(key: string, { entry }: Found): Promise<void> {
    try {
      const model = await this.registry.add(entry, undefined, 'runtime');
      this.owned.add(key);
      if (model.state === 'failed')
        this.log.warn({ model: key, error: model.error }, `repository: ${key} failed to load`);
      else this.log.info({ model: key, state: model.state }, `repository: serving ${key}`);
    } catch (error) {
      // Registered already (the configuration or the management API has it): theirs, not ours.
      this.log.warn({ model: key, err: error }, `repository: ${key} not served from the repository`);
    }
  }

  private async reload(key: string, { entry }: Found): Promise<void> {
    try {
      await this.registry.reconfigure(key, entry, true);
      this.log.info({ model: key }, `repository: reloaded ${key}`);
    } catch (error) {
      this.log.warn(
        { model: key, err: error },
        `repository: ${key} could not be reloaded; the old copy serves`,
      );
    }
  }

  private async remove(key: string): Promise<void> {
    this.owned.delete(key);
    this.tried.delete(key);
    try {
      await this.registry.remove(key);
      this.log.info({ model: key }, `repository: ${key} removed`);
    } catch (error) {
      this.log.warn({ model: key, err: error }, `repository: ${key} was removed already`);
    }
  }

  /** Every version the folder holds, by key. */
  private scan(): Scan {
    const scan: Scan = { found: new Map(), unreadable: new Set() };
    for (const name of subfolders(this.root)) {
      if (!NAME.test(name)) continue;
      try {
        if (!this.scanModel(name, scan.found)) scan.unreadable.add(name);
      } catch (error) {
        scan.unreadable.add(name);
        this.log.warn({ model: name, err: error }, `repository: ${name} could not be read; left as it is`);
      }
    }
    return scan;
  }

  /** Every version of `<name>/`, into `found`; false when its config.yaml cannot be read. */
  private scanModel(name: string, found: Map<string, Found>): boolean {
    const folder = join(this.root, name);
    const model = this.readModel(folder, name);
    if (!model) return false;
    const { version_policy: policy, ...runs } = model;
    for (const version of subfolders(folder)) {
      const path = join(folder, version);
      if (!VERSION.test(version) || !hasModel(path)) continue;
      const entry: ModelConfigEntry = { ...runs, name, version, source: readSource(path) ?? path };
      const fingerprint = `${JSON.stringify(entry)}\n${filesFingerprint(path)}`;
      found.set(versionKey(name, version), { entry, policy, fingerprint });
    }
    return true;
  }

  private readModel(folder: string, name: string): RepositoryModel | undefined {
    const file = join(folder, 'config.yaml');
    if (!existsSync(file)) return {};
    try {
      const model: unknown = parseYaml(readFileSync(file, 'utf8')) ?? {};
      if (checkModel.Check(model)) return model;
      const problems = [...checkModel.Errors(model)].map((e) => `${e.instancePath || '(root)'} ${e.message}`);
      this.log.warn({ model: name, problems }, `repository: ${file} is not valid; ${name} is skipped`);
    } catch (error) {
      this.log.warn({ model: name, err: error }, `repository: ${file} is not valid YAML; ${name} is skipped`);
    }
    return undefined;
  }
}

/** The versions each model's policy serves, by model: the latest one by default (Triton's default too). */
function choose(found: Map<string, Found>): Map<string, [string, Found][]> {
  const byModel = new Map<string, [string, Found][]>();
  for (const item of found)
    byModel.set(item[1].entry.name, [...(byModel.get(item[1].entry.name) ?? []), item]);
  const chosen = new Map<string, [string, Found][]>();
  for (const [name, versions] of byModel) {
    const ordered = versions.sort(([, a], [, b]) => byRelease(a.entry.version ?? '', b.entry.version ?? ''));
    const policy = ordered[0]?.[1].policy;
    if (policy && 'all' in policy) chosen.set(name, ordered);
    else if (policy && 'specific' in policy) {
      const wanted = new Set(policy.specific.versions.map(String));
      chosen.set(
        name,
        ordered.filter(([, f]) => wanted.has(f.entry.version ?? '')),
      );
    } else chosen.set(name, ordered.slice(-(policy?.latest.num_versions ?? 1)));
  }
  return chosen;
}

const subfolders = (folder: string): string[] => {
  try {
    return readdirSync(folder, { withFileTypes: true })
      .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
      .map((d) => d.name);
  } catch {
    return [];
  }
};

/** A version folder holds a model: Hub-layout files, or a pointer to a source. */
const hasModel = (folder: string): boolean =>
  existsSync(join(folder, 'config.json')) || existsSync(join(folder, SOURCE_POINTER));

function readSource(folder: string): string | undefined {
  const file = join(folder, SOURCE_POINTER);
  if (!existsSync(file)) return undefined;
  const pointer = parseYaml(readFileSync(file, 'utf8')) as { source?: unknown } | null;
  return typeof pointer?.source === 'string' ? pointer.source : undefined;
}

/** Sizes and modification times of every file under `folder`: it changes while files are copied in. */
function filesFingerprint(folder: string): string {
  const parts: string[] = [];
  const walk = (dir: string): void => {
    for (const item of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, item.name);
      if (item.isDirectory()) walk(path);
      else {
        const stat = statSync(path);
        parts.push(`${path}:${stat.size}:${stat.mtimeMs}`);
      }
    }
  };
  walk(folder);
  return parts.sort().join('\n');
}
