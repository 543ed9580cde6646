// How a model is named: `name` or `name@version`, the grammar shared by the configuration's schema
// and the registry's routing. A leaf: it imports nothing, so both can depend on it.

/** A reference to a model in a request: `name` or `name@version`. */
export interface ModelRef {
  name: string;
  version?: string | undefined;
}

const NAME = '[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)?';
const VERSION = '[A-Za-z0-9][A-Za-z0-9._-]{0,63}';
export const NAME_PATTERN = `^${NAME}$`;
export const VERSION_PATTERN = `^${VERSION}$`;
const REF = new RegExp(`^(${NAME})(?:@(${VERSION}))?$`);

/** The version of a model configured without one. */
export const FIRST_VERSION = '1';

export function parseRef(ref: string): ModelRef | undefined {
  const match = REF.exec(ref);
  return match ? { name: match[1] as string, version: match[2] } : undefined;
}
