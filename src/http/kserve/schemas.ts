// The Open Inference Protocol v2 (REST) bodies as TypeBox schemas: the infer request is validated
// with them, and all appear in OpenAPI under their $id.
import Type, { type Static } from 'typebox';

/** The protocol's tensor datatypes; hubserve's tensors are BYTES (text, JSON) and FP32. */
export const DATATYPES = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
] as const;

const Parameters = Type.Record(Type.String(), Type.Unknown(), {
  description: 'Request-level ones are the task parameters (e.g. top_k, candidate_labels, max_new_tokens).',
});

const Datatype = Type.Enum([...DATATYPES]);

export const InferenceRequest = Type.Object(
  {
    id: Type.Optional(Type.String({ description: 'Echoed in the response; a UUID when absent.' })),
    parameters: Type.Optional(Parameters),
    inputs: Type.Array(
      Type.Object({
        name: Type.String({ minLength: 1 }),
        shape: Type.Array(Type.Integer({ minimum: 0 }), { maxItems: 16 }),
        datatype: Datatype,
        parameters: Type.Optional(Parameters),
        data: Type.Array(Type.Unknown(), {
          description: 'Row-major elements, flat or nested; BYTES elements are JSON strings.',
        }),
      }),
      { minItems: 1 },
    ),
    outputs: Type.Optional(
      Type.Array(
        Type.Object({ name: Type.String({ minLength: 1 }), parameters: Type.Optional(Parameters) }),
        { description: 'The output tensors to return, in this order (default: all of them).' },
      ),
    ),
  },
  {
    $id: 'V2InferenceRequest',
    examples: [
      {
        id: '42',
        inputs: [{ name: 'text', shape: [2], datatype: 'BYTES', data: ['I love this', 'I hate this'] }],
      },
    ],
  },
);
export type InferenceRequest = Static<typeof InferenceRequest>;

const Tensor = Type.Object({
  name: Type.String(),
  datatype: Datatype,
  shape: Type.Array(Type.Integer({ minimum: 0 })),
  data: Type.Array(Type.Union([Type.String(), Type.Number()]), { description: 'Flat, row-major.' }),
});

export const InferenceResponse = Type.Object(
  {
    model_name: Type.String(),
    model_version: Type.Optional(Type.String()),
    id: Type.String(),
    parameters: Type.Optional(Parameters),
    outputs: Type.Array(Tensor),
  },
  { $id: 'V2InferenceResponse' },
);

export const TensorMetadata = Type.Object({
  name: Type.String(),
  datatype: Datatype,
  shape: Type.Array(Type.Integer({ minimum: -1 }), { description: '-1: any size' }),
});
export type TensorMetadata = Static<typeof TensorMetadata>;

export const ModelMetadata = Type.Object(
  {
    name: Type.String(),
    versions: Type.Array(Type.String(), { description: 'Version labels the URLs accept.' }),
    platform: Type.String({ description: 'hubserve/<task>' }),
    inputs: Type.Array(TensorMetadata),
    outputs: Type.Array(TensorMetadata),
  },
  { $id: 'V2ModelMetadata' },
);

export const ServerMetadata = Type.Object(
  { name: Type.String(), version: Type.String(), extensions: Type.Array(Type.String()) },
  { $id: 'V2ServerMetadata' },
);

export const ModelReady = Type.Object(
  { name: Type.String(), ready: Type.Boolean() },
  { $id: 'V2ModelReady' },
);

export const V2Error = Type.Object(
  { error: Type.String() },
  { $id: 'V2Error', description: 'Every /v2 error has this shape, as the protocol defines it.' },
);

export const v2Errors = { '4xx': { $ref: 'V2Error#' }, '5xx': { $ref: 'V2Error#' } };
