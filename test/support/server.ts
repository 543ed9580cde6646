// Starts a real hubserve server on a loopback port with generated models, for end-to-end tests.
import { startServer, type Server } from '../../src/server.ts';
import { DEFAULTS, type Config, type ModelConfigEntry } from '../../src/config/schema.ts';
import { hubSettingsFromEnv, type HubSettings } from '../../src/hub/index.ts';
import { testModelPath, type TinyModelId } from '../../tools/testmodels/index.ts';

/** A model entry serving a generated tiny model from its folder. */
export const tiny = (
  name: string,
  id: TinyModelId,
  extra: Partial<ModelConfigEntry> = {},
): ModelConfigEntry => ({
  name,
  source: testModelPath(id),
  ...extra,
});

export interface TestServer extends Server {
  post(
    path: string,
    body: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: unknown; headers: Headers }>;
}

/**
 * Starts a server on 127.0.0.1 and an ephemeral port. Close it from a file-level `after()`: one
 * registered inside a `before()` hook runs as soon as that hook ends.
 */
export async function serve(
  models: ModelConfigEntry[],
  options: { config?: Partial<Config>; hub?: Partial<HubSettings> } = {},
): Promise<TestServer> {
  const config: Config = {
    ...DEFAULTS,
    port: 0,
    management: { port: 0 },
    log_level: 'silent',
    models,
    ...options.config,
  };
  const server = await startServer(config, { ...hubSettingsFromEnv({}), ...options.hub }, 'test');
  const post: TestServer['post'] = async (path, body, headers = {}) => {
    const response = await fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text, and let the test say what it expected
    }
    return { status: response.status, body: parsed, headers: response.headers };
  };
  return { ...server, post };
}

/** What a request under load answered: its status and the version that served it. */
export interface LoadAnswer {
  status: number;
  version: string | null;
}

/**
 * Sends requests from `workers` loops (`send(worker, i)`) while `during` runs, then lets the loops
 * finish: every answer's status and X-Hubserve-Version.
 */
export async function underLoad(
  send: (worker: number, i: number) => Promise<{ status: number; headers: Headers }>,
  during: () => Promise<unknown>,
  workers = 3,
): Promise<LoadAnswer[]> {
  const answers: LoadAnswer[] = [];
  let done = false;
  const loops = Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      for (let i = 0; !done; i++) {
        const { status, headers } = await send(worker, i);
        answers.push({ status, version: headers.get('x-hubserve-version') });
      }
    }),
  );
  try {
    await during();
  } finally {
    done = true;
    await loops;
  }
  return answers;
}
