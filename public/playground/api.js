// Talking to hubserve from the page: the API key, JSON requests with readable errors, the
// Server-Sent Events of a streamed generation, and the same request as a curl line.

const KEY_STORAGE = 'hubserve.apiKey';

/** The API key, kept for this browser tab only. */
export function getApiKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE) ?? '';
  } catch {
    return '';
  }
}

export function setApiKey(key) {
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // storage disabled: the key lives as long as the field
  }
}

/** An error with the server's stable code, its HTTP status and its message. */
export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

function headers(json) {
  const result = { accept: json ? 'application/json' : '*/*' };
  if (json) result['content-type'] = 'application/json';
  const key = getApiKey();
  if (key) result.authorization = `Bearer ${key}`;
  return result;
}

/** The path of a model: a Hub id keeps its slash, each part encoded. */
export function modelPath(name) {
  return `/models/${name.split('/').map(encodeURIComponent).join('/')}`;
}

async function errorOf(response) {
  const text = await response.text().catch(() => '');
  try {
    const { error } = JSON.parse(text);
    if (error && typeof error.code === 'string') {
      const { code, message, ...details } = error;
      return new ApiError(response.status, code, message ?? code, details);
    }
  } catch {
    // not the error contract: say what came back
  }
  return new ApiError(response.status, `http_${response.status}`, text.slice(0, 300) || response.statusText);
}

function networkError(error) {
  if (error instanceof ApiError) return error;
  if (error?.name === 'AbortError') return new ApiError(0, 'aborted', 'the request was stopped');
  if (error?.name === 'TimeoutError') return new ApiError(0, 'timeout', 'no answer in time');
  return new ApiError(0, 'network', `the server could not be reached (${error?.message ?? error})`);
}

/** Server-Timing as `{name: ms}` (empty when the server sends none). */
export function serverTiming(response) {
  const timings = {};
  for (const part of (response.headers.get('server-timing') ?? '').split(',')) {
    const [name, ...params] = part.trim().split(';');
    if (!name) continue;
    const dur = params.map((p) => p.trim()).find((p) => p.startsWith('dur='));
    if (dur) timings[name] = Number(dur.slice(4));
  }
  return timings;
}

/** GET a JSON document. */
export async function getJson(path, { signal } = {}) {
  let response;
  try {
    response = await fetch(path, { headers: headers(false), signal, cache: 'no-store' });
  } catch (error) {
    throw networkError(error);
  }
  if (!response.ok) throw await errorOf(response);
  return response.json();
}

/** GET a text document; `null` when the route does not exist (404). */
export async function getText(path, { signal } = {}) {
  let response;
  try {
    response = await fetch(path, { headers: headers(false), signal, cache: 'no-store' });
  } catch (error) {
    throw networkError(error);
  }
  if (response.status === 404) return null;
  if (!response.ok) throw await errorOf(response);
  return response.text();
}

/** POSTs a request to a model; resolves to its answer, the round trip and the server's timings. */
export async function infer(name, body, { signal } = {}) {
  const started = performance.now();
  try {
    const response = await fetch(modelPath(name), {
      method: 'POST',
      headers: headers(true),
      body: JSON.stringify(body),
      signal,
    });
    if (!response.ok) throw await errorOf(response);
    const answer = await response.json();
    return { answer, ms: performance.now() - started, timing: serverTiming(response) };
  } catch (error) {
    throw networkError(error);
  }
}

/**
 * Streams a generation (`"stream": true`): calls `onToken(event)` for each Server-Sent Event as it
 * arrives, and resolves to the last event with the time to the first token and in all.
 */
export async function inferStream(name, body, { signal, onToken }) {
  const started = performance.now();
  let firstMs;
  let last;
  try {
    const response = await fetch(modelPath(name), {
      method: 'POST',
      headers: { ...headers(true), accept: 'text/event-stream' },
      body: JSON.stringify({ ...body, stream: true }),
      signal,
    });
    if (!response.ok) throw await errorOf(response);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const chunk = buffer.slice(0, end);
        buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
        const data = chunk
          .split(/\r?\n/)
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).replace(/^ /, ''))
          .join('\n');
        if (!data) continue;
        const event = JSON.parse(data);
        if (event.error) throw new ApiError(200, event.error_type ?? 'stream_error', event.error);
        firstMs ??= performance.now() - started;
        last = event;
        onToken(event);
      }
    }
  } catch (error) {
    throw networkError(error);
  }
  if (!last) throw new ApiError(200, 'empty_stream', 'the stream ended without a token');
  return { last, firstMs, ms: performance.now() - started };
}

/** A shell word in single quotes. */
const quote = (text) => `'${text.replaceAll("'", `'\\''`)}'`;

/**
 * The request as one curl line. The API key is never printed: the line reads it from
 * $HUBSERVE_API_KEY (in double quotes, so that the shell expands it).
 */
export function curlLine(name, body, { origin = location.origin, stream = false } = {}) {
  const parts = [stream ? 'curl -sN' : 'curl -s', quote(`${origin}${modelPath(name)}`)];
  parts.push('-H', quote('content-type: application/json'));
  if (getApiKey()) parts.push('-H', '"Authorization: Bearer $HUBSERVE_API_KEY"');
  parts.push('-d', quote(JSON.stringify(stream ? { ...body, stream: true } : body)));
  return parts.join(' ');
}
