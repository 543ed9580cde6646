import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { availableDtypes, neededFiles, selectFiles } from '../../src/hub/files.ts';
import { formatBytes } from '../../src/hub/progress.ts';
import { throwsWith } from './helpers.ts';

const BERT = { model_type: 'bert' };
const T5 = { model_type: 't5', is_encoder_decoder: true };
const TOKENIZER = ['config.json', 'tokenizer.json', 'tokenizer_config.json'];

describe('selectFiles', () => {
  it('picks the graph of the dtype, its external data, and the optional configs present', () => {
    const listing = [
      ...TOKENIZER,
      'README.md',
      'generation_config.json',
      'special_tokens_map.json',
      'onnx/model.onnx',
      'onnx/model.onnx_data',
      'onnx/model.onnx_data_1',
      'onnx/model_fp16.onnx',
      'onnx/model_fp16.onnx_data',
      'onnx/model_quantized.onnx',
    ];
    assert.deepEqual(selectFiles(BERT, 'fp32', listing), {
      files: [
        'config.json',
        'generation_config.json',
        'onnx/model.onnx',
        'onnx/model.onnx_data',
        'onnx/model.onnx_data_1',
        'special_tokens_map.json',
        'tokenizer.json',
        'tokenizer_config.json',
      ],
      missing: [],
    });
    assert.deepEqual(selectFiles(BERT, 'q8', listing).files, [
      'config.json',
      'generation_config.json',
      'onnx/model_quantized.onnx',
      'special_tokens_map.json',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    assert.deepEqual(selectFiles(BERT, 'q4', listing).missing, ['onnx/model_q4.onnx']);
    assert.deepEqual(availableDtypes(BERT, listing), ['fp32', 'fp16', 'q8']);
  });

  it('picks the encoder and the merged decoder of seq2seq models', () => {
    const listing = [
      ...TOKENIZER,
      'onnx/encoder_model_q4.onnx',
      'onnx/decoder_model_merged_q4.onnx',
      'onnx/decoder_model_q4.onnx',
      'onnx/decoder_with_past_model_q4.onnx',
      'onnx/encoder_model.onnx',
    ];
    assert.deepEqual(selectFiles(T5, 'q4', listing), {
      files: [
        'config.json',
        'onnx/decoder_model_merged_q4.onnx',
        'onnx/encoder_model_q4.onnx',
        ...TOKENIZER.slice(1),
      ],
      missing: [],
    });
    assert.deepEqual(availableDtypes(T5, listing), ['q4']);
  });
});

describe('neededFiles', () => {
  it('says when a repo has neither ONNX weights nor a checkpoint, and where to find some', () => {
    const error = throwsWith(
      () =>
        neededFiles('org/tf-only@main', BERT, 'fp32', [...TOKENIZER, 'tf_model.h5'], {
          repo: 'org/tf-only',
        }),
      'no_onnx_weights',
      /org\/tf-only@main has no ONNX weights/,
      /nor a checkpoint/,
      /onnx-community\/ or Xenova\//,
    );
    assert.equal(error.details['repo'], 'org/tf-only');
  });

  it('converts a checkpoint when the dtype has no ONNX graph, unless told not to', () => {
    const listing = ['config.json', 'vocab.txt', 'model.safetensors', 'pytorch_model.bin', 'README.md'];
    assert.deepEqual(neededFiles('m', BERT, 'fp32', listing, {}), {
      weights: 'checkpoint',
      files: ['config.json', 'model.safetensors', 'vocab.txt'],
      checkpoint: { format: 'safetensors', file: 'model.safetensors' },
    });
    throwsWith(
      () => neededFiles('m', BERT, 'fp32', listing, {}, 'onnx'),
      'no_onnx_weights',
      /`weights: onnx` rules out converting/,
    );
    throwsWith(
      () => neededFiles('m', BERT, 'bnb4', listing, {}),
      'invalid_config',
      /hubserve does in fp32, fp16, q8, q4; dtype bnb4 needs a repo with ONNX weights/,
    );
    const both = [...TOKENIZER, 'onnx/model.onnx', 'model.safetensors'];
    assert.equal(neededFiles('m', BERT, 'fp32', both, {}).weights, 'onnx');
    assert.deepEqual(neededFiles('m', BERT, 'fp32', both, {}, 'checkpoint').files, [
      'config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
  });

  it('lists the dtypes there are when the one asked for is missing', () => {
    const error = throwsWith(
      () => neededFiles('m', BERT, 'q4', [...TOKENIZER, 'onnx/model.onnx', 'onnx/model_fp16.onnx'], {}),
      'no_onnx_weights',
      /no ONNX weights for dtype q4 \(onnx\/model_q4\.onnx\); available dtypes: fp32, fp16/,
    );
    assert.deepEqual(error.details['availableDtypes'], ['fp32', 'fp16']);
    throwsWith(
      () => neededFiles('m', BERT, 'fp32', [...TOKENIZER, 'model.onnx'], {}),
      'no_onnx_weights',
      /not in the layout transformers\.js loads/,
    );
  });

  it('names the other required files a repo lacks', () => {
    throwsWith(
      () => neededFiles('m', BERT, 'fp32', ['config.json', 'onnx/model.onnx'], {}),
      'invalid_config',
      /m lacks tokenizer\.json, tokenizer_config\.json/,
    );
  });
});

it('formats sizes in decimal units', () => {
  assert.deepEqual([0, 999, 1000, 1_234_567, 3e9].map(formatBytes), [
    '0 B',
    '999 B',
    '1.0 kB',
    '1.2 MB',
    '3.0 GB',
  ]);
});
