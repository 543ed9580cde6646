// The Dockerfile, read as Docker reads it and checked against the server (no Docker engine here):
// the entrypoint runs hubserve as a non-root user, its environment is what hubserve reads, the health
// check asks a live server, the build context holds what COPY takes, the CUDA variant installs the
// CUDA provider, and the bake step pulls models with the real CLI from the mock Hub. The Lambda target
// and its SAM template, too.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Scalar } from 'yaml';
import { newKey } from '../../src/auth/keys.ts';
import { loadConfig } from '../../src/config/load.ts';
import { resolveModel } from '../../src/hub/index.ts';
import { testModelPath } from '../../tools/testmodels/index.ts';
import { startMockHub } from '../support/mock-hub.ts';
import { serve, type TestServer, tiny } from '../support/server.ts';
import {
  dockerStages,
  type Instruction,
  read,
  readByServer,
  ROOT,
  type Stage,
  stageEnv,
  startingConfig,
  yamlDocuments,
} from './support.ts';

const stages = dockerStages(read('Dockerfile'));
const stage = (name: string): Stage =>
  stages.find((s) => s.name === name) ?? assert.fail(`the Dockerfile has no stage ${name}`);
const instructions = (s: Stage, keyword: string): Instruction[] =>
  s.instructions.filter((i) => i.keyword === keyword);
const only = (s: Stage, keyword: string): string =>
  instructions(s, keyword).at(-1)?.args ?? assert.fail(`stage ${s.name} has no ${keyword}`);
const runtime = stages.at(-1) as Stage;
/** A command's exit status; asynchronous, since the servers it talks to run in this process. */
const status = (file: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) =>
  promisify(execFile)(file, args, { ...options, encoding: 'utf8' }).then(
    () => ({ code: 0, stderr: '' }),
    (error: { code?: number; stderr?: string }) => ({ code: error.code ?? -1, stderr: error.stderr ?? '' }),
  );
const { hash } = newKey();
const KEYS = `[{name: app, hash: "${hash}", scopes: [infer]}]`;
/** Where bake.sh writes the config of the baked models, from the models stage's RUN. */
const BAKED_CONFIG = /bake\.sh (\S+)/.exec(instructions(stage('models'), 'RUN').at(-1)?.args ?? '')?.[1];

let server: TestServer | undefined;
const temps: string[] = [];
after(async () => {
  await server?.close();
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});
const temp = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'hubserve-image-'));
  temps.push(dir);
  return dir;
};

describe('the container image', () => {
  before(async () => {
    server = await serve([tiny('sentiment', 'hubserve-test/tiny-sentiment')]);
  });

  it('defaults to the server target, which runs `hubserve serve` as a non-root user', () => {
    assert.equal(runtime.name, 'runtime', 'the last stage is the default target');
    assert.match(only(runtime, 'USER'), /^[1-9]\d*:[1-9]\d*$/, 'a numeric uid (runAsNonRoot can check it)');
    assert.deepEqual(JSON.parse(only(runtime, 'ENTRYPOINT')), ['hubserve']);
    const link = instructions(runtime, 'RUN').find((i) => i.args.includes('/usr/local/bin/hubserve'));
    assert.equal(link?.args, 'ln -s /app/bin/hubserve.js /usr/local/bin/hubserve');
    const bin = read('bin/hubserve.js');
    assert.match(bin, /^#!\/usr\/bin\/env node\n/, 'the link runs with the shebang');
    assert.match(bin, /import '\.\.\/dist\/cli\/main\.js'/);
    assert.ok(existsSync(`${ROOT}src/cli/main.ts`), 'dist/cli/main.js is built from src/cli/main.ts');
    const [command] = JSON.parse(only(runtime, 'CMD')) as string[];
    const help = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', '--help'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    assert.match(help.stdout, new RegExp(`^\\s+${command} `, 'm'), `hubserve has the command ${command}`);
  });

  it('sets only variables hubserve reads, and starts only with API keys (or told insecure)', () => {
    const env = stageEnv(runtime);
    for (const [name, value] of Object.entries(env))
      assert.ok(readByServer(name, value), `${name} is read by hubserve`);
    const withModels = { ...env, HUBSERVE_MODELS: 'sentiment=org/s' };
    assert.throws(() => startingConfig(withModels), /refusing to listen on 0\.0\.0\.0 without API keys/);
    assert.equal(startingConfig({ ...withModels, HUBSERVE_API_KEYS: KEYS }).host, '0.0.0.0');
    assert.equal(startingConfig({ ...withModels, HUBSERVE_INSECURE: '1' }).insecure, true);
    const baked = stageEnv(runtime, { MODELS: 'sentiment=org/s' });
    assert.equal(baked.HF_HUB_OFFLINE, '1', 'baked models are served offline');
    assert.equal(baked.HUBSERVE_CONFIG, BAKED_CONFIG, 'from the config the bake wrote');
    assert.equal(env.HF_HUB_OFFLINE, '', 'an image without models downloads them');
  });

  it('exposes the port it listens on, and its health check asks a live server whether it is ready', async () => {
    const env = stageEnv(runtime);
    assert.equal(only(runtime, 'EXPOSE'), env.HUBSERVE_PORT);
    const check = only(runtime, 'HEALTHCHECK');
    const [executable, ...args] = JSON.parse(check.slice(check.indexOf('CMD ') + 4)) as string[];
    assert.equal(executable, 'node');
    const run = async (port: string): Promise<number> =>
      (await status(process.execPath, args, { env: { ...process.env, HUBSERVE_PORT: port } })).code;
    const port = new URL(server?.url ?? '').port;
    assert.equal(await run(port), 0, 'healthy: /ready answers 200 once the models are warm');
    assert.match(check, /\/ready\b/);
    assert.equal(await run('1'), 1, 'unhealthy when nothing answers');
  });

  it('is built from a context holding exactly what COPY takes', () => {
    const admitted = read('.dockerignore')
      .split('\n')
      .filter((line) => line.startsWith('!'))
      .map((line) => line.slice(1).replace(/\/$/, ''));
    assert.ok(read('.dockerignore').split('\n').includes('*'), 'everything else is left out');
    const copied = stages.flatMap((s) =>
      instructions(s, 'COPY')
        .filter((i) => !i.args.includes('--from='))
        .flatMap((i) =>
          i.args
            .split(' ')
            .filter((word) => !word.startsWith('--'))
            .slice(0, -1),
        ),
    );
    for (const source of copied) {
      const path = source.replace(/\/$/, '');
      assert.ok(existsSync(`${ROOT}${path}`), `${path} exists`);
      assert.ok(
        admitted.some((entry) => path === entry || path.startsWith(`${entry}/`)),
        `.dockerignore admits ${path}`,
      );
    }
    for (const entry of admitted)
      assert.ok(
        copied.some((source) => source.replace(/\/$/, '').startsWith(entry)),
        `${entry} is copied`,
      );
  });

  it('has a CUDA variant: the CUDA 12 provider installed, on NVIDIA’s CUDA runtime with cuDNN', () => {
    for (const variant of ['cpu', 'cuda']) {
      stage(`build-${variant}`);
      stage(`base-${variant}`);
    }
    const install = only(stage('build-cuda'), 'RUN');
    assert.equal(
      install,
      'ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js',
    );
    assert.match(
      readFileSync(`${ROOT}node_modules/onnxruntime-node/script/install-utils.js`, 'utf8'),
      /process\.env\.ONNXRUNTIME_NODE_INSTALL/,
      'the install script reads the variable',
    );
    const metadata = readFileSync(`${ROOT}node_modules/onnxruntime-node/script/install-metadata.js`, 'utf8');
    assert.match(metadata, /'linux\/x64:cuda12'/, 'cuda12 is one of its manifests');
    const cudaImage = /ARG CUDA_IMAGE=(\S+)/.exec(read('Dockerfile'))?.[1] ?? '';
    assert.match(cudaImage, /^nvidia\/cuda:12\.[\d.]+-cudnn-runtime-/);
    assert.equal(stage('base-cuda').from, '${CUDA_IMAGE}');
    const uid = only(runtime, 'USER').split(':')[0];
    assert.match(only(stage('base-cuda'), 'RUN'), new RegExp(`useradd --uid ${uid} `), 'the same uid');
  });

  it('bakes models with the real `hubserve pull`, then serves them offline from the config it wrote', async () => {
    const repo = 'hubserve-test/tiny-sentiment';
    const hub = await startMockHub({ repos: { [repo]: { dir: testModelPath(repo) } } });
    const dir = temp();
    const cache = join(dir, 'hub');
    try {
      writeFileSync(
        join(dir, 'hubserve'),
        `#!/bin/sh\nexec "${process.execPath}" --import tsx "${ROOT}src/cli/main.ts" "$@"\n`,
      );
      chmodSync(join(dir, 'hubserve'), 0o755);
      const config = join(dir, 'etc', 'hubserve.yaml');
      const bake = await status('sh', ['docker/bake.sh', config], {
        cwd: ROOT,
        env: {
          ...process.env,
          PATH: `${dir}:${process.env.PATH}`,
          MODELS: `sentiment=${repo},${repo}@main`,
          DTYPE: 'q8',
          HF_ENDPOINT: hub.url,
          HF_HUB_CACHE: cache,
        },
      });
      assert.equal(bake.code, 0, bake.stderr);
      const models = loadConfig({ file: config, env: {} }).models;
      assert.deepEqual(models, [
        { name: 'sentiment', source: repo, dtype: 'q8' },
        { name: repo, source: `${repo}@main`, dtype: 'q8' },
      ]);
      await hub.close();
      for (const model of models) {
        const resolved = await resolveModel(model.source, {
          dtype: 'q8',
          settings: {
            endpoint: hub.url,
            cacheDir: cache,
            convertedDir: join(cache, 'converted'),
            offline: true,
          },
        });
        assert.ok(existsSync(join(resolved.path, 'onnx', 'model_quantized.onnx')), `${model.source} baked`);
      }
    } finally {
      await hub.close().catch(() => undefined);
    }
    const none = await status('sh', ['docker/bake.sh', join(dir, 'none', 'hubserve.yaml')], {
      cwd: ROOT,
      env: { PATH: '/usr/bin:/bin' },
    });
    assert.equal(none.code, 0, 'no models: nothing to bake, and no hubserve needed');
    assert.ok(!existsSync(join(dir, 'none', 'hubserve.yaml')), 'no config either');
  });
});

describe('the Lambda target and its SAM template', () => {
  const lambda = stage('lambda');
  const cfn = (tag: string) => ({
    tag,
    resolve: (value: string) => ({ [tag.slice(1)]: value }),
  });
  interface Template {
    Globals: { Function: { Timeout: number } };
    Resources: Record<
      string,
      {
        Type: string;
        Properties: {
          PackageType: string;
          Environment: { Variables: Record<string, unknown> };
          FunctionUrlConfig: { AuthType: string };
        };
        Metadata: Record<string, unknown> & { DockerBuildArgs: Record<string, string> };
      }
    >;
  }
  const [template] = yamlDocuments<Template>(read('deploy/lambda/template.yaml'), {
    customTags: ['!Ref', '!Sub', '!GetAtt'].map(cfn),
  });

  it('runs the handler of src/serverless, with the environment hubserve reads', () => {
    assert.deepEqual(JSON.parse(only(lambda, 'CMD')), ['dist/serverless/lambda.handler']);
    assert.match(read('src/serverless/lambda.ts'), /^export const handler = /m);
    const env = stageEnv(lambda);
    for (const [name, value] of Object.entries(env)) assert.ok(readByServer(name, value), name);
    assert.equal(env.HUBSERVE_CONFIG, BAKED_CONFIG, 'serves what the bake wrote');
    assert.equal(env.HF_HUB_OFFLINE, '1', 'never downloads: its file system is read-only');
  });

  it('is what the template builds and deploys', () => {
    const functions = Object.values(template?.Resources ?? {}).filter(
      (r) => r.Type === 'AWS::Serverless::Function',
    );
    assert.equal(functions.length, 1);
    const [fn] = functions;
    assert.equal(fn?.Properties.PackageType, 'Image');
    const metadata = fn?.Metadata ?? {};
    const context = join(ROOT, 'deploy/lambda', String(metadata.DockerContext));
    assert.equal(join(context, String(metadata.Dockerfile)), join(ROOT, 'Dockerfile'));
    assert.equal(stage(String(metadata.DockerBuildTarget)), lambda);
    const args = stage('models').instructions.filter((i) => i.keyword === 'ARG');
    for (const name of Object.keys(metadata.DockerBuildArgs ?? {}))
      assert.ok(
        args.some((a) => a.args.startsWith(`${name}=`)),
        `${name} is a build argument of the models stage`,
      );
    const models = metadata.DockerBuildArgs?.MODELS ?? '';
    assert.ok(
      loadConfig({ env: { HUBSERVE_MODELS: models } }).models.length > 0,
      'MODELS as HUBSERVE_MODELS',
    );
    const variables = fn?.Properties.Environment.Variables ?? {};
    for (const [name, value] of Object.entries(variables))
      assert.ok(readByServer(name, value instanceof Scalar ? String(value.value) : String(value)), name);
    assert.equal(fn?.Properties.FunctionUrlConfig.AuthType, 'NONE');
    assert.ok('HUBSERVE_API_KEYS' in variables, 'an open URL is guarded by API keys');
    assert.ok(!('HUBSERVE_INSECURE' in variables));
    assert.ok((template?.Globals.Function.Timeout ?? 0) <= 900, "within Lambda's 15 minutes");
  });
});
