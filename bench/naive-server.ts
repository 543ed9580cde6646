// The naive peer: what a user writes today from the transformers.js docs. node:http, the pipeline on
// the main thread with its default settings, one pipeline() call per request, no batching, no queue.
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { env, pipeline } from '@huggingface/transformers';

const { values } = parseArgs({ options: { model: { type: 'string' }, port: { type: 'string' } } });
if (!values.model || !values.port) throw new Error('usage: naive-server.ts --model FOLDER --port PORT');

env.allowRemoteModels = false;
const classify = await pipeline('text-classification', values.model, { dtype: 'fp32' });

createServer(async (req, res) => {
  if (req.method === 'GET' && req.url === '/health') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    return;
  }
  try {
    let body = '';
    for await (const chunk of req) body += String(chunk);
    const { inputs } = JSON.parse(body) as { inputs: string };
    const output = await classify(inputs);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(output));
  } catch (error) {
    res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: String(error) }));
  }
}).listen(Number(values.port), '127.0.0.1');
