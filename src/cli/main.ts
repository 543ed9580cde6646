#!/usr/bin/env node
// The hubserve command line: serve, pull, convert, key and bench.
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { newKey, SCOPES, type Scope } from '../auth/keys.ts';
import { loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { benchCommand } from '../loadtest/command.ts';
import { isServeError } from '../errors.ts';
import { CONVERTIBLE_DTYPES } from '../convert/index.ts';
import {
  conversionReporter,
  exportConverted,
  hubSettingsFromEnv,
  progressReporter,
  pullModels,
  type ResolvedModel,
  WEIGHTS_MODES,
  type WeightsMode,
} from '../hub/index.ts';
import { startServer } from '../server.ts';

// @huggingface/hub reports each file it downloads with console.debug, on stdout, in between our JSON
// log lines; downloads are reported by our own progress output instead.
console.debug = () => undefined;

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const program = new Command('hubserve')
  .description('Serve Hugging Face Hub NLP models as a fast, safe HTTP API.')
  .version(version);

program
  .command('serve')
  .description('Serve models: Hub ids (org/name[@revision]), local folders, or name=source.')
  .argument('[models...]', 'models to serve, besides those of the config file')
  .option(
    '-c, --config <file>',
    'YAML config file (default: ./hubserve.yaml if present; env HUBSERVE_CONFIG)',
  )
  .option('--host <host>', 'interface to listen on (env HUBSERVE_HOST; default 127.0.0.1)')
  .option('-p, --port <port>', 'port (env HUBSERVE_PORT; default 8080)', (v) => Number(v))
  .option('--offline', 'use the Hugging Face cache only (also HF_HUB_OFFLINE=1)')
  .option(
    '--model-repository <dir>',
    'serve the <name>/<version>/ folders of a model repository, picked up while serving (env HUBSERVE_MODEL_REPOSITORY_PATH)',
  )
  .option(
    '--management-port <port>',
    'management API port (env HUBSERVE_MANAGEMENT_PORT; default 8081)',
    (v) => Number(v),
  )
  .option('--insecure', 'listen beyond loopback without API keys (env HUBSERVE_INSECURE)')
  .option(
    '--drain-delay-s <seconds>',
    'on SIGTERM, how long it keeps accepting while balancers catch up (env HUBSERVE_DRAIN_DELAY_S; default 3)',
    (v) => Number(v),
  )
  .option(
    '--shutdown-timeout-s <seconds>',
    'on SIGTERM, how long in-flight requests may finish (env HUBSERVE_SHUTDOWN_TIMEOUT_S; default 25)',
    (v) => Number(v),
  )
  .addOption(new Option('--log-level <level>', 'log level (env HUBSERVE_LOG_LEVEL)'))
  .option('--task <task>', 'task of the models named on the command line')
  .option('--dtype <dtype>', 'weights of the models named on the command line (fp32, q8, fp16, q4, ...)')
  .option('--device <device>', 'device of the models named on the command line (cpu, cuda, webgpu)')
  .addOption(weightsOption('weights of the models named on the command line'))
  .action(async (models: string[], flags: Record<string, string | number | boolean | undefined>) => {
    const config = loadConfig({
      ...(flags.config ? { file: String(flags.config) } : {}),
      models,
      modelDefaults: definedOnly({
        task: flags.task,
        dtype: flags.dtype,
        device: flags.device,
        weights: flags.weights,
      }),
      flags: definedOnly({
        host: flags.host,
        port: flags.port,
        offline: flags.offline,
        insecure: flags.insecure,
        shutdown_timeout_s: flags.shutdownTimeoutS,
        drain_delay_s: flags.drainDelayS,
        log_level: flags.logLevel,
        model_repository:
          flags.modelRepository === undefined ? undefined : { path: String(flags.modelRepository) },
        management: flags.managementPort === undefined ? undefined : { port: flags.managementPort },
      }) as Partial<Config>,
    });
    if (config.models.length === 0 && !config.model_repository && !config.tenants?.length) {
      throw new Error(
        'no models to serve: name some (hubserve serve org/name), give a config file (--config) or a model repository (--model-repository)',
      );
    }
    const hub = { ...hubSettingsFromEnv(), ...(config.offline ? { offline: true } : {}) };
    const server = await startServer(config, hub, version);
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) {
        server.app.log.warn(`${signal} again: exiting now`);
        process.exit(1);
      }
      stopping = true;
      server.app.log.info(`${signal}: finishing the requests in flight, then exiting`);
      server.shutdown().then(
        () => process.exit(0),
        (error: unknown) => {
          server.app.log.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });

program
  .command('pull')
  .description(
    'Download models into the Hugging Face cache, converting checkpoints (to bake them into an image).',
  )
  .argument('<models...>', 'Hub ids (org/name[@revision])')
  .option('--dtype <dtype>', 'weights to fetch', 'fp32')
  .addOption(weightsOption('where the weights come from'))
  .action(async (models: string[], flags: { dtype: string; weights?: WeightsMode }) => {
    const pulled = await pullModels(models, {
      dtype: flags.dtype,
      weights: flags.weights,
      settings: hubSettingsFromEnv(),
      onProgress: progressReporter(),
      onConvert: conversionReporter(),
    });
    for (const model of pulled) console.log(`${model.source} -> ${model.path}${converted(model)}`);
  });

program
  .command('convert')
  .description(
    "Convert a model's checkpoint (safetensors, pytorch_model.bin) and tokenizer into an ONNX Hub folder " +
      '(onnx/model.onnx, tokenizer.json, ...) that transformers.js and Optimum load.',
  )
  .argument('<model>', 'Hub id (org/name[@revision]) or local folder')
  .requiredOption('-o, --out <dir>', 'folder to write (must not exist, or be empty)')
  .addOption(
    new Option('--dtype <dtype>', 'weights to write').choices([...CONVERTIBLE_DTYPES]).default('fp32'),
  )
  .action(async (model: string, flags: { out: string; dtype: string }) => {
    const exported = await exportConverted(model, flags.out, {
      dtype: flags.dtype,
      settings: hubSettingsFromEnv(),
      onProgress: progressReporter(),
      onConvert: conversionReporter(),
    });
    console.log(`${model} -> ${flags.out}${converted(exported)}`);
  });

program
  .command('key')
  .description('Make an API key: prints the key (give it to its holder) and the config entry (its hash).')
  .argument('<name>', 'who holds it')
  .addOption(new Option('--scopes <scopes...>', 'what it may do').choices([...SCOPES]).default(['infer']))
  .option('--tenant <tenant>', 'whom it acts for (default: its name)')
  .action((name: string, flags: { scopes: Scope[]; tenant?: string }) => {
    const { key, hash } = newKey();
    const tenant = flags.tenant ? `, tenant: ${flags.tenant}` : '';
    console.log(`key: ${key}\n\n# hubserve.yaml\napi_keys:`);
    console.log(`  - { name: ${name}, hash: "${hash}", scopes: [${flags.scopes.join(', ')}]${tenant} }`);
  });

function weightsOption(description: string): Option {
  return new Option(
    '--weights <weights>',
    `${description}: ONNX files, the checkpoint converted, or auto`,
  ).choices([...WEIGHTS_MODES]);
}

const converted = (model: ResolvedModel): string =>
  model.conversion
    ? ` (converted from ${model.conversion.checkpoint}${model.conversion.cached ? ', cached' : ` in ${model.conversion.ms} ms`})`
    : '';

function definedOnly(values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
}

program.addCommand(benchCommand());

program.parseAsync().catch((error: unknown) => {
  console.error(
    `hubserve: ${isServeError(error) ? `${error.message} [${error.code}]` : (error as Error).message}`,
  );
  process.exit(1);
});
