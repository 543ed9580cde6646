// Which deployed version of a model a request reaches. A request names a model (`sentiment`) or one
// version of it (`sentiment@2`). A tenant's private model hides a shared one of the same name from
// that tenant only, and a tenant with an allow-list sees nothing else. Without an explicit version a
// request goes to the default version, or, with a traffic split, to a version picked by weight from a
// hash of its user, so one user keeps seeing one version while the split stands.
import { createHash } from 'node:crypto';
import { ServeError } from '../errors.ts';

/** Who is asking: the tenant decides what exists, the user which side of a split. */
export interface Viewer {
  /** The caller's tenant ('' when the server has no keys). */
  tenant?: string | undefined;
  /** Stable id of the end user (X-User-Id, else the key, else the client address). */
  user?: string | undefined;
}

/** The key of one deployed version: `name@version`, behind `tenant:` when it is a tenant's own. */
export const versionKey = (name: string, version: string, tenant?: string): string =>
  `${tenant ? `${tenant}:` : ''}${name}@${version}`;

/** Versions in release order: numeric parts compare as numbers (2 < 10), `latest` = the last. */
export const byRelease = (a: string, b: string): number =>
  a.localeCompare(b, 'en', { numeric: true, sensitivity: 'base' });

/** A model's versions and how traffic is shared between them. */
export interface Route {
  name: string;
  /** Whose model it is; absent: shared. */
  tenant?: string | undefined;
  versions: Set<string>;
  /**
   * Versions still loading, or that failed to: requests reach them by name@version only, so a new
   * latest version takes traffic once it is warm, and never if it cannot load.
   */
  held: Set<string>;
  /** Explicit default; absent: the latest version. */
  defaultVersion?: string | undefined;
  /** Relative weights of the versions requests without a version go to; absent: all to the default. */
  split?: Record<string, number> | undefined;
}

/** The versions requests without a version may go to: those not held (all, while every one is). */
function servable(route: Route): string[] {
  const warm = [...route.versions].filter((v) => !route.held.has(v));
  return warm.length ? warm : [...route.versions];
}

export function defaultOf(route: Route): string {
  const versions = servable(route);
  if (route.defaultVersion && versions.includes(route.defaultVersion)) return route.defaultVersion;
  const latest = versions.sort(byRelease).at(-1);
  if (latest === undefined) throw new ServeError('model_not_found', `model "${route.name}" has no version`);
  return latest;
}

/** A number in [0, 1) fixed for this user and model. */
function bucket(user: string, model: string): number {
  return createHash('sha256').update(`${model}\0${user}`).digest().readUInt32BE(0) / 2 ** 32;
}

/**
 * The version a request without one goes to. The split's versions are laid out in release order, so
 * growing the weight of the newest (a canary) only moves users onto it, never between the others.
 */
export function pickVersion(route: Route, user: string | undefined): string {
  const versions = servable(route);
  const weighted = Object.entries(route.split ?? {}).filter(([v, w]) => w > 0 && versions.includes(v));
  if (weighted.length === 0) return defaultOf(route);
  weighted.sort(([a], [b]) => byRelease(a, b));
  const total = weighted.reduce((sum, [, w]) => sum + w, 0);
  let point = bucket(user ?? '', route.name) * total;
  for (const [version, weight] of weighted) {
    if (point < weight) return version;
    point -= weight;
  }
  return (weighted.at(-1) as [string, number])[0];
}

/** The same 404 for a model that does not exist and one the viewer may not see. */
export const notFound = (ref: string): ServeError =>
  new ServeError('model_not_found', `no model named "${ref}" is served`);

/** Checks a split: known versions, weights that add up to something. */
export function checkSplit(route: Route, split: Record<string, number>): void {
  const unknown = Object.keys(split).filter((v) => !route.versions.has(v));
  if (unknown.length) {
    throw new ServeError('invalid_request', `model "${route.name}" has no version ${unknown.join(', ')}`, {
      versions: [...route.versions].sort(byRelease),
    });
  }
  if (!Object.values(split).some((w) => w > 0)) {
    throw new ServeError('invalid_request', 'a traffic split needs at least one version with weight > 0');
  }
}
