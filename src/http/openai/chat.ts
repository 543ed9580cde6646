// POST /v1/chat/completions: chat messages through the model's chat template.
import type { FastifyInstance } from 'fastify';
import Type, { type Static } from 'typebox';
import { ServeError } from '../../errors.ts';
import { type Dialect, generateResponse, samplingFields } from './generation.ts';
import type { OpenAIRoutesOptions } from './options.ts';
import { typed } from '../typed.ts';

const TextPart = Type.Object({ type: Type.Literal('text'), text: Type.String() });
const Message = Type.Object({
  role: Type.Enum(['system', 'developer', 'user', 'assistant']),
  content: Type.Union([Type.String(), Type.Array(TextPart, { minItems: 1 })], {
    description: 'Text, or text parts (images and audio are not accepted).',
  }),
  name: Type.Optional(Type.String()),
});

const ChatRequest = Type.Object(
  {
    ...samplingFields,
    messages: Type.Array(Message, { minItems: 1 }),
    max_completion_tokens: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
    tools: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 0, description: 'Not supported.' })),
    tool_choice: Type.Optional(Type.Literal('none')),
    response_format: Type.Optional(Type.Object({ type: Type.Literal('text') })),
    top_logprobs: Type.Optional(Type.Null()),
    metadata: Type.Optional(Type.Unknown()),
    store: Type.Optional(Type.Boolean()),
  },
  {
    $id: 'OpenAIChatRequest',
    additionalProperties: false, // as OpenAI: an unknown field is an error, not ignored
    examples: [{ model: 'gpt2', messages: [{ role: 'user', content: 'Once upon a' }], max_tokens: 20 }],
  },
);

const chat: Dialect = {
  object: 'chat.completion',
  chunkObject: 'chat.completion.chunk',
  idPrefix: 'chatcmpl',
  choice: (content, finish_reason, index) => ({
    index,
    message: { role: 'assistant', content, refusal: null },
    finish_reason,
    logprobs: null,
  }),
  delta: (content, finish_reason, first) => ({
    index: 0,
    delta: first ? { role: 'assistant', content } : content ? { content } : {},
    finish_reason,
    logprobs: null,
  }),
};

/** The task's chat messages: text parts joined, a developer message is a system message. */
function taskMessages(messages: Static<typeof Message>[]): { role: string; content: string }[] {
  return messages.map((m, i) => {
    const content = typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join('');
    if (!content) {
      throw new ServeError('invalid_request', `messages[${i}].content is empty`, { param: `messages.${i}` });
    }
    return { role: m.role === 'developer' ? 'system' : m.role, content };
  });
}

export async function chatRoutes(app: FastifyInstance, options: OpenAIRoutesOptions): Promise<void> {
  typed(app).post(
    '/chat/completions',
    { schema: { summary: 'Chat completion (OpenAI)', tags: ['openai'], body: ChatRequest } },
    async (request, reply) => {
      const { body } = request;
      return generateResponse({
        registry: options.registry,
        request,
        reply,
        body,
        inputs: taskMessages(body.messages),
        dialect: chat,
      });
    },
  );
}
