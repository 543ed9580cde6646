// What deployments carry in environment variables (a Secret, an .env file, a Lambda's settings): lists
// as YAML or comma-separated, and nested keys that change one key of the file's object, not all of it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.ts';
import { isServeError } from '../../src/errors.ts';

const HASH = `sha256:${'ab'.repeat(32)}`;
const dir = mkdtempSync(join(tmpdir(), 'hubserve-config-env-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('configuration from the environment, as deployments set it', () => {
  it('reads API keys as a YAML or JSON list (what a Secret holds)', () => {
    const yaml = loadConfig({
      env: { HUBSERVE_API_KEYS: `[{name: app, hash: "${HASH}", scopes: [infer], tenant: acme}]` },
    });
    assert.deepEqual(yaml.api_keys, [{ name: 'app', hash: HASH, scopes: ['infer'], tenant: 'acme' }]);
    const json = loadConfig({
      env: { HUBSERVE_API_KEYS: JSON.stringify([{ name: 'ci', hash: HASH, scopes: ['metrics'] }]) },
    });
    assert.equal(json.api_keys[0]?.name, 'ci');
    const block = loadConfig({
      env: { HUBSERVE_API_KEYS: `- name: a\n  hash: "${HASH}"\n  scopes: [admin]\n` },
    });
    assert.deepEqual(block.api_keys[0]?.scopes, ['admin'], 'a block sequence (stringData: |) works too');
  });

  it('reads lists of strings comma-separated, and replaces the file’s list', () => {
    const file = join(dir, 'origins.yaml');
    writeFileSync(file, 'cors_origins: [https://old.example]\nmodel_dirs: [/srv]\n');
    const config = loadConfig({
      file,
      env: {
        HUBSERVE_CORS_ORIGINS: 'https://a.example, https://b.example',
        HUBSERVE_MODEL_DIRS: '/mnt/models',
      },
    });
    assert.deepEqual(config.cors_origins, ['https://a.example', 'https://b.example']);
    assert.deepEqual(config.model_dirs, ['/mnt/models']);
  });

  it('reads models as a YAML list with their settings, added to the file’s, or comma-separated as before', () => {
    const file = join(dir, 'models.yaml');
    writeFileSync(file, 'models: [{name: base, source: org/base}]\n');
    const config = loadConfig({
      file,
      env: {
        HUBSERVE_MODELS:
          '[{name: sentiment, source: org/s, dtype: q8, instances: 2, batching: {max_batch_size: 8}}, org/plain]',
      },
    });
    assert.deepEqual(config.models, [
      { name: 'base', source: 'org/base' },
      { name: 'sentiment', source: 'org/s', dtype: 'q8', instances: 2, batching: { max_batch_size: 8 } },
      { name: 'org/plain', source: 'org/plain' },
    ]);
    const comma = loadConfig({ env: { HUBSERVE_MODELS: 'org/a,b=./local/b' } });
    assert.deepEqual(
      comma.models.map((m) => m.name),
      ['org/a', 'b'],
    );
  });

  it('refuses a list that is not one, naming the variable, and validates what it holds', () => {
    const refused = (env: Record<string, string>): string => {
      try {
        loadConfig({ env });
      } catch (error) {
        assert.ok(isServeError(error) && error.code === 'invalid_config', String(error));
        return error.message;
      }
      assert.fail(`accepted ${JSON.stringify(env)}`);
    };
    assert.match(refused({ HUBSERVE_API_KEYS: '[{name: a' }), /HUBSERVE_API_KEYS is not valid YAML/);
    assert.match(refused({ HUBSERVE_API_KEYS: '- a: 1\nb: 2' }), /HUBSERVE_API_KEYS/);
    assert.match(
      refused({ HUBSERVE_API_KEYS: '[{name: a, hash: "sha256:00", scopes: [infer]}]' }),
      /api_keys\.0\.hash/,
    );
    assert.match(refused({ HUBSERVE_MODELS: '[{name: x}]' }), /models\.0/, 'a model without a source');
  });

  it('changes one key of a nested object from the environment, keeping the file’s others', () => {
    const file = join(dir, 'memory.yaml');
    writeFileSync(file, 'memory: {max_bytes: 8GiB, idle_unload_after_s: 600}\nlimits: {max_inputs: 8}\n');
    const config = loadConfig({ file, env: { HUBSERVE_MEMORY_MAX_LOADED_MODELS: '3' } });
    assert.deepEqual(config.memory, { max_bytes: '8GiB', idle_unload_after_s: 600, max_loaded_models: 3 });
    assert.deepEqual(config.limits, { max_inputs: 8 }, 'objects the environment does not touch stay');
  });
});
