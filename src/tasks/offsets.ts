// Character offsets of tokens in the original text, which transformers.js does not give: each token's
// text is found in a normalized copy of the input that remembers where each character came from.
import type { PreTrainedTokenizer } from '@huggingface/transformers';

export interface TokenSpan {
  /** Index in the encoded sequence. */
  index: number;
  /** The token as the vocabulary spells it ("##ing", "Ġtime"). */
  token: string;
  /** [start, end) in the original text; equal when the token could not be placed (e.g. [UNK]). */
  start: number;
  end: number;
  /** Continues the previous token's word ("##ing", or BPE pieces without a leading space). */
  continuesWord: boolean;
}

const vocabularies = new WeakMap<PreTrainedTokenizer, string[]>();

function idToToken(tokenizer: PreTrainedTokenizer): string[] {
  let tokens = vocabularies.get(tokenizer);
  if (!tokens) {
    tokens = [];
    for (const [token, id] of tokenizer.get_vocab()) tokens[id] = token;
    vocabularies.set(tokenizer, tokens);
  }
  return tokens;
}

/** Lower-cased, accent-free text plus, for each of its characters, the index it came from. */
function normalized(text: string): { chars: string; source: number[] } {
  let chars = '';
  const source: number[] = [];
  for (let i = 0; i < text.length;) {
    const cp = text.codePointAt(i) as number;
    const ch = String.fromCodePoint(cp);
    const folded = ch.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
    chars += folded;
    // One entry per UTF-16 unit, as indexOf counts them (an emoji is two).
    for (let k = 0; k < folded.length; k++) source.push(i);
    i += ch.length;
  }
  return { chars, source };
}

/** The end (exclusive) in `text` of the character starting at `index`. */
const charEnd = (text: string, index: number): number =>
  index + String.fromCodePoint(text.codePointAt(index) as number).length;

/**
 * What one [UNK] stands for, as BERT's pre-tokenizer splits text: a single punctuation mark, symbol
 * or CJK character, or a run of other non-space characters.
 */
const UNKNOWN_PIECE =
  /[\p{P}\p{S}]|\p{Script=Han}|\p{Script=Hiragana}|\p{Script=Katakana}|[^\s\p{P}\p{S}\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]+/u;

/** What a vocabulary token looks like in text: no "##", and byte-level/sentencepiece spaces dropped. */
function surface(tokenizer: PreTrainedTokenizer, id: number, token: string): string {
  if (token.startsWith('##')) return token.slice(2);
  const decoded = tokenizer.decode([id], { skip_special_tokens: false });
  return normalized(decoded.trim()).chars;
}

/** Offsets of each token of `ids` (an encoding of `text`); special tokens are skipped. */
export function tokenSpans(
  tokenizer: PreTrainedTokenizer,
  text: string,
  ids: readonly number[],
): TokenSpan[] {
  const vocab = idToToken(tokenizer);
  const special = new Set(tokenizer.all_special_ids);
  const { chars, source } = normalized(text);
  const spans: TokenSpan[] = [];
  let cursor = 0;
  let previousEnd = -1;
  ids.forEach((id, index) => {
    if (special.has(id) && id !== tokenizer.unk_token_id) return;
    const token = vocab[id] ?? '';
    const piece = id === tokenizer.unk_token_id ? '' : surface(tokenizer, id, token);
    // A token that cannot be placed gets an empty span where the search stands, in the original text.
    let start = source[cursor] ?? text.length;
    let end = start;
    const found = piece ? chars.indexOf(piece, cursor) : -1;
    if (found >= 0) {
      start = source[found] as number;
      end = charEnd(text, source[found + piece.length - 1] as number);
      cursor = found + piece.length;
    } else if (id === tokenizer.unk_token_id) {
      const rest = UNKNOWN_PIECE.exec(chars.slice(cursor));
      if (rest) {
        const at = cursor + rest.index;
        start = source[at] as number;
        end = charEnd(text, source[at + rest[0].length - 1] as number);
        cursor = at + rest[0].length;
      }
    }
    const spaced = /^[Ġ▁]/u.test(token);
    const continuesWord =
      token.startsWith('##') ||
      (!spaced && previousEnd === start && /^[\p{L}\p{N}]/u.test(text.slice(start)));
    spans.push({ index, token, start, end, continuesWord: spans.length > 0 && continuesWord });
    previousEnd = end;
  });
  return spans;
}
