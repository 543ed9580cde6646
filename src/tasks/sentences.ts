// Sentence boundaries that know abbreviations. Intl.Segmenter breaks after every period followed by a
// space and a capital ("Dr. | Müller", "3. | Oktober"): V8's ICU ignores the locale key that would
// turn on CLDR's suppressions. So its boundaries are kept or merged here, by rules over CLDR's
// sentence-break suppressions (cldr-segments-full) and ICU's own month names, with short lists for
// what CLDR lacks (Dutch, titles, abbreviations that also end sentences). Offsets stay exact: a merge
// only removes a boundary.
import { createRequire } from 'node:module';
import { ServeError } from '../errors.ts';

export interface Sentence {
  text: string;
  /** [start, end) in the text it came from. */
  start: number;
  end: number;
}

/** Languages cldr-segments-full has suppressions for. */
const CLDR = new Set(['de', 'el', 'en', 'es', 'fi', 'fr', 'it', 'ja', 'pt', 'ru', 'sv']);

/** Titles and honorifics: a name always follows, so never a boundary after them. */
const TITLES: Record<string, readonly string[]> = {
  en: ['Mr.', 'Mrs.', 'Ms.', 'Dr.', 'Prof.', 'St.', 'Sr.', 'Jr.', 'Rev.', 'Gen.', 'Capt.', 'Sgt.'],
  de: ['Hr.', 'Hrn.', 'Fr.', 'Dr.', 'Prof.', 'St.', 'Dipl.-Ing.'],
  fr: ['M.', 'MM.', 'Mme.', 'Mmes.', 'Mlle.', 'Mlles.', 'Dr.', 'Pr.', 'Me.', 'St.', 'Ste.'],
  es: ['Sr.', 'Sra.', 'Srta.', 'Sres.', 'Dr.', 'Dra.', 'D.', 'Dña.', 'Ud.', 'Uds.', 'Lic.', 'Ing.'],
  it: ['Sig.', 'Sig.ra', 'Sigg.', 'Dott.', 'Dott.ssa', 'Prof.', 'Ing.', 'Avv.', 'Geom.', 'Arch.', 'S.'],
  nl: ['Dhr.', 'Mevr.', 'Mw.', 'Mr.', 'Dr.', 'Drs.', 'Prof.', 'Ir.', 'Ing.', 'St.'],
};

/** Abbreviations CLDR does not list, that never end a sentence by themselves. */
const INNER: Record<string, readonly string[]> = {
  en: [
    'e.g.',
    'i.e.',
    'vs.',
    'approx.',
    'No.',
    'Nos.',
    'Inc.',
    'Ltd.',
    'Co.',
    'Corp.',
    'Mt.',
    'Ave.',
    'Dept.',
  ],
  de: [
    'z.B.',
    'bzw.',
    'ca.',
    'vgl.',
    'ggf.',
    'evtl.',
    'd.h.',
    'u.a.',
    'z.T.',
    'Nr.',
    'Str.',
    'Tel.',
    'inkl.',
    'zzgl.',
  ],
  fr: ['cf.', 'env.', 'p.ex.', 'av.', 'bd.', 'n°.', 'chap.', 'vol.', 'tél.'],
  es: ['aprox.', 'p.ej.', 'pág.', 'núm.', 'Avda.', 'tel.', 'vol.', 'cap.'],
  it: ['ca.', 'pag.', 'p.es.', 'tel.', 'n.', 'vol.', 'cap.'],
  nl: [
    'o.a.',
    'bijv.',
    'bv.',
    'd.w.z.',
    'i.p.v.',
    'm.b.t.',
    'ca.',
    'nr.',
    'blz.',
    'a.u.b.',
    'z.g.a.n.',
    'tel.',
    'u.',
  ],
};

/** Abbreviations that may also end a sentence: no boundary only when a lowercase word follows. */
const ENDERS: Record<string, readonly string[]> = {
  en: ['etc.', 'a.m.', 'p.m.'],
  de: ['usw.', 'etc.', 'u.ä.'],
  fr: ['etc.'],
  es: ['etc.'],
  it: ['ecc.', 'etc.'],
  nl: ['enz.', 'etc.'],
};

/** German words after which "3." is an ordinal ("am 3. Oktober", "im 3. Stock"). */
const ORDINAL_CUES: Record<string, readonly string[]> = {
  de: [
    'am',
    'im',
    'vom',
    'zum',
    'beim',
    'bis',
    'ab',
    'seit',
    'der',
    'die',
    'das',
    'den',
    'dem',
    'des',
    'ihr',
    'sein',
  ],
};

interface Rules {
  /** No boundary after these, whatever follows (CLDR's suppressions and the titles). */
  suppress: Set<string>;
  enders: Set<string>;
  months: Set<string>;
  ordinalCues: Set<string>;
  segmenter: Intl.Segmenter;
}

const require = createRequire(import.meta.url);

function cldrSuppressions(language: string): string[] {
  if (!CLDR.has(language)) return [];
  const data = require(`cldr-segments-full/segments/${language}/suppressions.json`) as {
    segments: { segmentations: { SentenceBreak?: { standard?: { suppression: string }[] } } };
  };
  return (data.segments.segmentations.SentenceBreak?.standard ?? []).map((s) => s.suppression);
}

/** ICU's month names, long and short, lowercased, without their final period. */
function monthNames(locale: string): Set<string> {
  const names = new Set<string>();
  for (const month of ['long', 'short'] as const) {
    const format = new Intl.DateTimeFormat(locale, { month, timeZone: 'UTC' });
    for (let m = 0; m < 12; m++) {
      names.add(
        format
          .format(new Date(Date.UTC(2024, m, 15)))
          .toLowerCase()
          .replace(/\.$/, ''),
      );
    }
  }
  return names;
}

const cache = new Map<string, Rules>();

function rulesFor(locale: string): Rules {
  let rules = cache.get(locale);
  if (rules) return rules;
  let segmenter: Intl.Segmenter;
  try {
    segmenter = new Intl.Segmenter(locale, { granularity: 'sentence' });
  } catch {
    throw new ServeError(
      'invalid_request',
      `parameters.language: "${locale}" is not a locale (try en, fr, pt-BR)`,
    );
  }
  const language = (segmenter.resolvedOptions().locale.split('-')[0] ?? '').toLowerCase();
  rules = {
    suppress: new Set([
      ...cldrSuppressions(language),
      ...(TITLES[language] ?? []),
      ...(INNER[language] ?? []),
    ]),
    enders: new Set(ENDERS[language] ?? []),
    months: monthNames(locale),
    ordinalCues: new Set(ORDINAL_CUES[language] ?? []),
    segmenter,
  };
  if (cache.size > 64) cache.clear(); // parameters.language is the client's: bound what it keeps
  cache.set(locale, rules);
  return rules;
}

const OPENERS = /^[\s"'“”‘’«»„‚([{¿¡]+/u;
/** Closing quotes and brackets after a space (French « ... ») belong to the sentence before them. */
const CLOSERS = /^\s*[»”’")\]]+/u;
const isLower = (word: string): boolean => /^\p{Ll}/u.test(word);
const isUpper = (word: string): boolean => /^\p{Lu}/u.test(word);

/** Whether the boundary between `before` (a segment, ending in a period) and `after` is none. */
function continues(before: string, after: string, rules: Rules): boolean {
  const words = before.trimEnd().split(/\s+/);
  const last = (words.at(-1) ?? '').replace(OPENERS, '');
  if (!last.endsWith('.') || last.endsWith('..')) return isLower(after.trimStart().replace(OPENERS, ''));
  const next = after.trimStart().replace(OPENERS, '');
  const nextWord = (next.split(/[\s,;:.!?]/)[0] ?? '').toLowerCase();
  if (isLower(next)) return true; // no sentence starts in lowercase
  if (rules.suppress.has(last)) return true;
  if (rules.enders.has(last)) return false; // a capital follows: it ended the sentence
  if (/^\p{Lu}\.$/u.test(last) && isUpper(next)) return true; // an initial: "J. Smith", "M. Dupont"
  if (/^\d{1,2}\.$/.test(last)) {
    // An ordinal before a month ("3. Oktober"), or after an article or preposition in German.
    const previous = (words.at(-2) ?? '').toLowerCase();
    return rules.months.has(nextWord) || rules.ordinalCues.has(previous);
  }
  return false;
}

/** Sentences of a text, trimmed, with exact offsets: Intl.Segmenter's, less the false boundaries. */
export function splitSentences(text: string, language = 'en'): Sentence[] {
  const rules = rulesFor(language);
  const pieces: { start: number; end: number }[] = [];
  for (const { segment, index } of rules.segmenter.segment(text)) {
    const previous = pieces.at(-1);
    const closer = previous ? (CLOSERS.exec(segment)?.[0].length ?? 0) : 0;
    if (
      previous &&
      (closer === segment.length || continues(text.slice(previous.start, index), segment, rules))
    ) {
      previous.end = index + segment.length;
    } else if (previous && closer > 0) {
      previous.end = index + closer;
      pieces.push({ start: index + closer, end: index + segment.length });
    } else {
      pieces.push({ start: index, end: index + segment.length });
    }
  }
  const out: Sentence[] = [];
  for (const { start, end } of pieces) {
    const segment = text.slice(start, end);
    const lead = segment.length - segment.trimStart().length;
    const trimmed = segment.trim();
    if (trimmed) out.push({ text: trimmed, start: start + lead, end: start + lead + trimmed.length });
  }
  return out;
}
