// Starts a real hubserve server on a loopback port with generated models, for end-to-end tests.
import { startServer, type Server } from '../../src/cli/serve.ts';
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
