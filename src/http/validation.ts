// Strict validation of request bodies against their TypeBox schemas, for the routes whose clients
// expect it (OpenAI's, the management API): no type coercion, no unknown field silently dropped,
// and the first problem named by its field.
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { ServeError } from '../errors.ts';

export function strictValidatorCompiler({ schema }: { schema: TSchema }) {
  const validator = Compile(schema);
  return (data: unknown) => {
    if (validator.Check(data)) return { value: data };
    const [first] = [...validator.Errors(data)].filter((e) => e.message !== 'schema is false');
    const extra = (first?.params as { additionalProperties?: string[] } | undefined)?.additionalProperties;
    const param = extra?.[0] ?? first?.instancePath.slice(1).replaceAll('/', '.') ?? '';
    const message = extra ? `unknown parameter ${extra.join(', ')}` : `${param || 'body'}: ${first?.message}`;
    return { error: new ServeError('invalid_request', message, { param: param || null }) };
  };
}
