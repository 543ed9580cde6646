// docker-compose.yml with .env.example, as Compose interpolates them (no Docker engine here): every
// setting is documented, every variable reaches hubserve and is read by it, the container would start
// with the example's settings and refuse to without keys, and ports, volume and grace fit the image.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  dockerStages,
  expand,
  read,
  readByServer,
  stageEnv,
  startingConfig,
  yamlDocuments,
} from './support.ts';

interface Service {
  image: string;
  build: { args: Record<string, string> };
  ports: string[];
  environment: Record<string, string>;
  volumes: string[];
  stop_grace_period: string;
}
const [compose] = yamlDocuments<{ services: Record<string, Service>; volumes: Record<string, unknown> }>(
  read('docker-compose.yml'),
);
const service = compose?.services.hubserve as Service;
const example = Object.fromEntries(
  read('.env.example')
    .split('\n')
    .filter((line) => /^[A-Z_]+=/.test(line))
    .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
);
const imageEnv = stageEnv(dockerStages(read('Dockerfile')).at(-1) ?? assert.fail('no stages'));
/** The container's environment: the image's, then what compose sets from the .env values. */
const containerEnv = (values: Record<string, string>): Record<string, string> => ({
  ...imageEnv,
  ...Object.fromEntries(
    Object.entries(service.environment).map(([name, value]) => [name, expand(value, values)]),
  ),
});

describe('docker compose with .env', () => {
  it('documents in .env.example every variable it uses, and uses every one documented', () => {
    const used = new Set([...read('docker-compose.yml').matchAll(/\$\{(\w+)/g)].map((m) => m[1]));
    assert.deepEqual([...used].sort(), Object.keys(example).sort());
  });

  it('passes only variables hubserve reads', () => {
    for (const [name, value] of Object.entries(containerEnv(example)))
      assert.ok(readByServer(name, value), `${name} is read by hubserve`);
  });

  it("starts with the example's settings: models with instances and batching, keys, limits", () => {
    const config = startingConfig(containerEnv(example));
    const [model] = config.models;
    assert.equal(model?.instances, 2);
    assert.equal(model?.batching?.timeout_ms, 30000);
    assert.equal(config.api_keys.length, 1);
    assert.equal(config.memory?.max_loaded_models, 8);
    assert.equal(config.host, '0.0.0.0', "the image's");
  });

  it('refuses to start without keys unless HUBSERVE_INSECURE, and without models', () => {
    const keyless = { ...example, HUBSERVE_API_KEYS: '' };
    assert.throws(() => startingConfig(containerEnv(keyless)), /without API keys/);
    assert.equal(startingConfig(containerEnv({ ...keyless, HUBSERVE_INSECURE: 'true' })).insecure, true);
    assert.throws(() => containerEnv({ ...example, HUBSERVE_MODELS: '' }), /set HUBSERVE_MODELS/);
  });

  it("publishes the image's port on loopback by default, keeps the cache in a volume, and drains", () => {
    const [published] = service.ports;
    assert.equal(expand(published ?? '', {}), `127.0.0.1:8080:${imageEnv.HUBSERVE_PORT}`);
    const [volume] = service.volumes;
    const [name, target] = (volume ?? '').split(':');
    assert.equal(target, imageEnv.HF_HOME, "the volume holds the image's Hugging Face cache");
    assert.ok(name && name in (compose?.volumes ?? {}), 'a named volume: it outlives the container');
    const grace = Number(/^(\d+)s$/.exec(service.stop_grace_period)?.[1]);
    const drain = startingConfig(containerEnv(example)).shutdown_timeout_s;
    assert.ok(grace > drain, `stop_grace_period ${grace}s leaves shutdown_timeout_s ${drain}s to finish`);
    const variant = expand(service.build.args.VARIANT ?? '', example);
    assert.ok(
      dockerStages(read('Dockerfile')).some((s) => s.name === `base-${variant}`),
      variant,
    );
  });
});
