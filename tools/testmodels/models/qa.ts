// question-answering: the question word says what kind of answer is wanted (who -> person, where ->
// place, when -> date, "which company" -> organisation); start/end logits pick the context's span of
// that kind, so "Where does Alice live?" + "Alice lives in Paris." -> "Paris".
import {
  bertInputs,
  bertTokenizer,
  encoderFolder,
  oneHot,
  shifted,
  sumTokens,
  tokenTable,
} from '../encoders.ts';
import { ENTITIES, ENTITY_TYPES, QUESTION_WORDS } from '../lexicon.ts';
import type { ModelFolder } from '../layout.ts';
import { DType, Graph } from '../../../src/convert/onnx/graph.ts';

const width = ENTITY_TYPES.length;

function graph(): Uint8Array {
  const g = new Graph('qa');
  const { ids, mask, segment } = bertInputs(g, true);
  const question = g.mul(mask, g.sub(g.f32([1]), segment as string));
  const context = g.mul(mask, segment as string);
  const { vocab } = bertTokenizer;
  const entityTable = tokenTable(g, 'entity_type', vocab, width, (token) => {
    const k = ENTITY_TYPES.findIndex((t) => ENTITIES[t].includes(token));
    return k < 0 ? undefined : oneHot(k, width);
  });
  const askedTable = tokenTable(g, 'asked_type', vocab, width, (token) => {
    const asked = QUESTION_WORDS[token];
    return asked ? oneHot(ENTITY_TYPES.indexOf(asked), width) : undefined;
  });
  const asked = sumTokens(g, g.gather(askedTable, ids), question, true); // [b, 1, 4]
  const fit = g.mul(g.reduceSum(g.mul(g.gather(entityTable, ids), asked), [2]), context); // [b, s]
  // A span starts where the fitting run starts and ends where it ends; outside the context: never.
  const outside = g.mul(g.sub(context, g.f32([1])), g.f32([1e4]));
  const edge = (neighbour: string): string =>
    g.add(g.sub(g.mul(fit, g.f32([6])), g.mul(neighbour, g.f32([3]))), outside);
  const dims = ['batch_size', 'sequence_length'];
  g.output('start_logits', edge(shifted(g, fit, 2, 1)), DType.float, dims);
  g.output('end_logits', edge(shifted(g, fit, 2, -1)), DType.float, dims);
  return g.toBytes();
}

export function build(): ModelFolder {
  return encoderFolder({
    id: 'hubserve-test/tiny-qa',
    task: 'question-answering',
    description: 'Extractive QA: who/where/when/which company pick the person/place/date/organisation span.',
    config: { architectures: ['BertForQuestionAnswering'] },
    onnx: { 'model.onnx': graph() },
  });
}
