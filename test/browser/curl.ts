// Reads a curl command line the way a POSIX shell splits it, for tests that run what the page copies.

/** Splits a command line into words: single quotes, double quotes (variables kept as written), escapes. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated single quote at ${i}`);
      word = (word ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let text = '';
      for (i++; i < line.length && line[i] !== '"'; i++) {
        if (line[i] === '\\' && /["\\$`]/.test(line[i + 1] ?? '')) i++;
        text += line[i];
      }
      if (i >= line.length) throw new Error('unterminated double quote');
      word = (word ?? '') + text;
    } else if (c === '\\') {
      word = (word ?? '') + (line[++i] ?? '');
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else word = (word ?? '') + c;
  }
  if (word !== undefined) words.push(word);
  return words;
}

export interface CurlRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
  flags: string[];
}

/** The request a `curl [-s|-sN] URL -H ... -d ...` line makes. */
export function parseCurl(line: string): CurlRequest {
  const [command, ...args] = shellWords(line);
  if (command !== 'curl') throw new Error(`not a curl line: ${line}`);
  const request: CurlRequest = { url: '', method: 'GET', headers: {}, flags: [] };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '-H' || arg === '--header') {
      const header = args[++i] ?? '';
      const colon = header.indexOf(':');
      request.headers[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim();
    } else if (arg === '-d' || arg === '--data' || arg === '--data-raw') {
      request.body = args[++i] ?? '';
      request.method = 'POST';
    } else if (arg === '-X' || arg === '--request') request.method = args[++i] ?? 'GET';
    else if (arg.startsWith('-')) request.flags.push(arg);
    else request.url = arg;
  }
  return request;
}
