// Model URLs: `/models/{name}` and `/models/{org}/{name}`, since a model's name may be a Hub id with
// its slash. Routes registered at both share one handler, typed by these params.
import type { FastifyRequest } from 'fastify';

export interface ModelPathParams {
  org?: string;
  name: string;
}

/** A request to a model URL whose route schema validated these params (and body). */
export type ModelPathRequest<
  Params extends ModelPathParams = ModelPathParams,
  Body = unknown,
> = FastifyRequest<{
  Params: Params;
  Body: Body;
}>;

/** The model name a URL's params spell. */
export const modelNameOf = ({ org, name }: ModelPathParams): string =>
  org === undefined ? name : `${org}/${name}`;
