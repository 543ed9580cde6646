// Route types from the routes' own TypeBox schemas: a handler's request.body, params and query are
// the types of what the schema validated, with no cast (a Fastify type provider for TypeBox).
import type { FastifyInstance, FastifyTypeProvider } from 'fastify';
import type { Static, TSchema } from 'typebox';

export interface TypeBoxProvider extends FastifyTypeProvider {
  validator: this['schema'] extends TSchema ? Static<this['schema']> : unknown;
  serializer: this['schema'] extends TSchema ? Static<this['schema']> : unknown;
}

/** The same app, its routes typed by their schemas. */
export const typed = (app: FastifyInstance) => app.withTypeProvider<TypeBoxProvider>();
