// The AWS Lambda handler (container image: CMD ["dist/serverless/lambda.handler"]). The configuration
// is the server's (HUBSERVE_* variables, HUBSERVE_CONFIG), and the models load once per execution
// environment, here at module init, outside the handler: warm invocations find them loaded.
import { readFileSync } from 'node:fs';
import { buildServer } from '../server.ts';
import { loadConfig } from '../config/load.ts';
import { ServeError } from '../errors.ts';
import { hubSettingsFromEnv } from '../hub/index.ts';
import { dispatch, type LambdaContext, type LambdaEvent } from './events.ts';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const config = loadConfig();
if (config.models.length === 0) {
  throw new ServeError('invalid_config', 'no models to serve: set HUBSERVE_MODELS or HUBSERVE_CONFIG');
}
// Every event comes from beyond loopback: without keys, anyone who may invoke the function, or reach
// its URL, may use it. HUBSERVE_INSECURE=1 says IAM or an authorizer guards every way in.
if (config.api_keys.length === 0 && !config.insecure) {
  throw new ServeError(
    'invalid_config',
    'refusing to serve Lambda events without API keys: set HUBSERVE_API_KEYS, or HUBSERVE_INSECURE=1 ' +
      'when IAM (AuthType AWS_IAM) or an authorizer guards the function URL, the API and Invoke.',
  );
}

/** The app and registry of this execution environment (tests close them). */
export const server = await buildServer(config, hubSettingsFromEnv(), version);
await server.app.ready();

export const handler = (event: LambdaEvent, context?: LambdaContext) => dispatch(server.app, event, context);
