// `npm run models [-- --bench] [--force] [--out DIR]`: writes the generated test models.
import { parseArgs } from 'node:util';
import { BENCH_MODELS, DEFAULT_MODELS_DIR, generateModel, isCurrent, TINY_MODELS } from './index.ts';

const { values } = parseArgs({
  options: {
    bench: { type: 'boolean', default: false },
    force: { type: 'boolean', default: false },
    out: { type: 'string', default: DEFAULT_MODELS_DIR },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  console.log(`usage: npm run models -- [--bench] [--force] [--out DIR]

Writes small models in the Hugging Face Hub layout, one per task, under DIR (default ${DEFAULT_MODELS_DIR}).
  --bench   also the BERT-base-shaped benchmark model (~440 MB, a few seconds)
  --force   rebuild models that are already current`);
  process.exit(0);
}

const ids = [...Object.keys(TINY_MODELS), ...(values.bench ? Object.keys(BENCH_MODELS) : [])];
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(2)} MiB`;
for (const id of ids) {
  if (!values.force && isCurrent(values.out, id)) {
    console.log(`${id.padEnd(36)} current`);
    continue;
  }
  const { bytes, ms } = generateModel(values.out, id);
  console.log(`${id.padEnd(36)} ${mib(bytes).padStart(11)}  ${ms.toFixed(0).padStart(6)} ms`);
}
