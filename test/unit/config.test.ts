// Configuration: defaults < hubserve.yaml < HUBSERVE_* < flags, and errors that name the key and the
// accepted values.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig, modelFromArgument } from '../../src/config/load.ts';
import { ServeError } from '../../src/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'hubserve-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

const configError = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ServeError, String(error));
    assert.equal(error.code, 'invalid_config');
    return error.message;
  }
  assert.fail('expected an invalid_config error');
};

describe('loadConfig', () => {
  it('has safe defaults: loopback, port 8080, 1 MiB bodies', () => {
    const config = loadConfig({ env: {} });
    assert.deepEqual(
      [config.host, config.port, config.offline, config.max_body_bytes, config.models],
      ['127.0.0.1', 8080, false, 1048576, []],
    );
  });

  it('layers the YAML file, then HUBSERVE_* variables, then flags', () => {
    const path = file(
      'layers.yaml',
      'port: 9000\nlog_level: warn\nmodels:\n  - { name: s, source: org/sentiment, dtype: q8, instances: 2 }\n',
    );
    const fromFile = loadConfig({ file: path, env: {} });
    assert.deepEqual([fromFile.port, fromFile.log_level], [9000, 'warn']);
    assert.deepEqual(fromFile.models, [{ name: 's', source: 'org/sentiment', dtype: 'q8', instances: 2 }]);
    const fromEnv = loadConfig({ file: path, env: { HUBSERVE_PORT: '9100', HUBSERVE_OFFLINE: 'yes' } });
    assert.deepEqual([fromEnv.port, fromEnv.offline, fromEnv.log_level], [9100, true, 'warn']);
    const fromFlags = loadConfig({ file: path, env: { HUBSERVE_PORT: '9100' }, flags: { port: 9200 } });
    assert.equal(fromFlags.port, 9200);
    const viaEnvFile = loadConfig({ env: { HUBSERVE_CONFIG: path } });
    assert.equal(viaEnvFile.port, 9000);
  });

  it('adds models named on the command line or in HUBSERVE_MODELS', () => {
    const config = loadConfig({ env: { HUBSERVE_MODELS: 'org/a,b=./local/b' }, models: ['org/c@v2'] });
    assert.deepEqual(config.models, [
      { name: 'org/a', source: 'org/a' },
      { name: 'b', source: './local/b' },
      { name: 'org/c', source: 'org/c@v2' },
    ]);
    assert.deepEqual(modelFromArgument('./models/hubserve-test/tiny-ner'), {
      name: 'hubserve-test/tiny-ner',
      source: './models/hubserve-test/tiny-ner',
    });
  });

  it('names the key, the accepted values and the value given', () => {
    const path = file(
      'bad.yaml',
      'models:\n  - { name: s, source: org/s, device: gpu, dtype: q7 }\nport: 99999\n',
    );
    const message = configError(() => loadConfig({ file: path, env: {} }));
    assert.match(message, /models\.0\.device: must be one of cpu, cuda, webgpu \(got "gpu"\)/);
    assert.match(message, /models\.0\.dtype: must be one of fp32, fp16, q8/);
    assert.match(message, /port: .*65535.*\(got 99999\)/);
    assert.match(
      configError(() => loadConfig({ env: { HUBSERVE_PORT: 'eighty' } })),
      /port: .*\(got "eighty"\)/,
    );
    // --device / --dtype / --task apply to the models named on the command line, validated alike.
    assert.match(
      configError(() =>
        loadConfig({ env: {}, models: ['org/a'], modelDefaults: { device: 'gpu' as 'cpu' } }),
      ),
      /models\.0\.device: must be one of cpu, cuda, webgpu \(got "gpu"\)/,
    );
    assert.match(
      configError(() => loadConfig({ env: { HUBSERVE_LOG_LEVEL: 'loud' } })),
      /log_level: must be one of fatal, error, warn, info, debug, trace, silent \(got "loud"\)/,
    );
  });

  it('refuses unknown keys, duplicate names, missing files and broken YAML', () => {
    assert.match(
      configError(() => loadConfig({ file: file('u.yaml', 'prot: 80\n'), env: {} })),
      /unknown key\(s\) prot/,
    );
    assert.match(
      configError(() => loadConfig({ env: {}, models: ['a=org/x', 'a=org/y'] })),
      /the name "a" is used twice/,
    );
    assert.match(
      configError(() => loadConfig({ file: join(dir, 'nope.yaml'), env: {} })),
      /does not exist/,
    );
    assert.match(
      configError(() => loadConfig({ file: file('b.yaml', 'port: [\n'), env: {} })),
      /not valid YAML/,
    );
  });
});
