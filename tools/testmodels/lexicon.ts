// The knowledge the generated models carry. Tests assert behaviour against these lists, so a model's
// answer is checkable ("I love this wonderful film" -> POSITIVE) without faking any output.

// prettier-ignore
export const POSITIVE_WORDS = [
  'love', 'loved', 'like', 'liked', 'great', 'good', 'wonderful', 'excellent', 'amazing', 'happy',
  'fantastic', 'best', 'enjoy', 'enjoyed', 'beautiful', 'brilliant', 'perfect', 'nice', 'delicious',
  'friendly', 'fun', 'awesome', 'glad', 'helpful',
] as const;

// prettier-ignore
export const NEGATIVE_WORDS = [
  'hate', 'hated', 'bad', 'terrible', 'awful', 'horrible', 'worst', 'boring', 'sad', 'poor',
  'disappointing', 'ugly', 'rude', 'slow', 'broken', 'angry', 'dirty', 'useless', 'annoying', 'cold', 'expensive',
] as const;

/** Words that flip the polarity of what they qualify ("not good"); "don't" splits into don ' t. */
export const NEGATION_WORDS = [
  'not',
  'never',
  'no',
  'nobody',
  'don',
  'doesn',
  'didn',
  'isn',
  'wasn',
] as const;

/** Topics drive the NLI/zero-shot model and the embedding model: words of one topic are related. */
export const TOPICS = {
  sports: [
    'sports',
    'sport',
    'football',
    'soccer',
    'tennis',
    'match',
    'team',
    'goal',
    'player',
    'game',
    'won',
  ],
  politics: [
    'politics',
    'political',
    'election',
    'government',
    'president',
    'vote',
    'minister',
    'parliament',
  ],
  technology: ['technology', 'computer', 'software', 'phone', 'internet', 'robot', 'laptop', 'code', 'app'],
  food: ['food', 'pizza', 'pasta', 'bread', 'cheese', 'restaurant', 'dinner', 'lunch', 'cooking', 'meal'],
  travel: ['travel', 'trip', 'flight', 'hotel', 'beach', 'vacation', 'airport', 'journey', 'tourist'],
  music: ['music', 'song', 'guitar', 'piano', 'concert', 'band', 'singer', 'album'],
  weather: ['weather', 'rain', 'sunny', 'snow', 'storm', 'wind', 'forecast', 'temperature'],
  finance: ['finance', 'money', 'bank', 'stock', 'market', 'price', 'investment', 'economy', 'expensive'],
  animals: ['animals', 'animal', 'cat', 'kitten', 'dog', 'puppy', 'horse', 'bird', 'pet'],
  service: ['service', 'staff', 'waiter', 'waitress', 'delivery', 'support'],
} as const satisfies Record<string, readonly string[]>;

export type Topic = keyof typeof TOPICS;
export const TOPIC_NAMES = Object.keys(TOPICS) as Topic[];

const topics = new Map(TOPIC_NAMES.flatMap((t) => TOPICS[t].map((w) => [w as string, t] as const)));

/** The topic a word belongs to, if any. */
export const topicOf = (word: string): Topic | undefined => topics.get(word);

/** Words that end a clause: sentiment about an aspect stays inside the clause that mentions it. */
export const CLAUSE_BREAKS = [
  'but',
  'and',
  'although',
  'however',
  'while',
  'whereas',
  '.',
  ',',
  ';',
  '!',
  '?',
] as const;

export const ENTITY_TYPES = ['PER', 'LOC', 'ORG', 'DATE'] as const;
export type EntityType = (typeof ENTITY_TYPES)[number];

/** Known entities; multi-word names ("Alice Smith", "New York") are tagged B- then I-. */
// prettier-ignore
export const ENTITIES: Record<EntityType, readonly string[]> = {
  PER: [
    'alice', 'bob', 'carol', 'david', 'emma', 'john', 'maria', 'pierre', 'yuki', 'ahmed', 'sophie', 'lucas',
    'smith', 'johnson', 'dupont', 'martin', 'tanaka', 'garcia',
  ],
  LOC: [
    'paris', 'london', 'berlin', 'tokyo', 'madrid', 'rome', 'lyon', 'boston', 'sydney', 'cairo', 'new',
    'york', 'france', 'germany', 'japan', 'spain', 'italy',
  ],
  ORG: ['google', 'microsoft', 'unesco', 'acme', 'nasa', 'airbus'],
  DATE: [
    'monday', 'tuesday', 'friday', 'sunday', 'january', 'march', 'june', 'december', 'yesterday', 'today',
    'tomorrow', '1999', '2020', '2024', '2026',
  ],
};

/** Question words of the QA model and the entity type their answer has. */
export const QUESTION_WORDS: Record<string, EntityType> = {
  who: 'PER',
  whom: 'PER',
  where: 'LOC',
  when: 'DATE',
  company: 'ORG',
  organization: 'ORG',
};

/** Fill-mask knowledge: the word a left or right neighbour predicts for the masked slot. */
export const FILL_MASK_LEFT: Record<string, string> = {
  of: 'france',
  drink: 'coffee',
  eat: 'pizza',
  play: 'football',
  speak: 'french',
};
export const FILL_MASK_RIGHT: Record<string, string> = {
  barked: 'dog',
  meowed: 'cat',
  flew: 'bird',
  rang: 'phone',
};

/** Everyday words so that ordinary sentences tokenize into words, not letters. */
// prettier-ignore
export const COMMON_WORDS = [
  'a', 'an', 'the', 'this', 'that', 'these', 'those', 'i', 'you', 'he', 'she', 'it', 'we', 'they', 'me',
  'my', 'your', 'his', 'her', 'our', 'their', 'is', 'are', 'was', 'were', 'be', 'been', 'am', 'do', 'does',
  'did', 'have', 'has', 'had', 'will', 'would', 'can', 'could', 'should', 'and', 'or', 'but', 'if', 'so',
  'of', 'in', 'on', 'at', 'to', 'from', 'with', 'for', 'by', 'about', 'over', 'into', 'after', 'before',
  'what', 'which', 'why', 'how', 'who', 'whom', 'where', 'when', 'very', 'really', 'too', 'also', 'just',
  'all', 'some', 'many', 'much', 'more', 'most', 'one', 'two', 'three', 'there', 'here', 'now', 'then',
  'film', 'movie', 'book', 'food', 'service', 'staff', 'room', 'day', 'time', 'people', 'man', 'woman',
  'person', 'child', 'house', 'city', 'country', 'world', 'work', 'job', 'car', 'water', 'coffee', 'tea',
  'french', 'english', 'language', 'capital', 'live', 'lives', 'lived', 'moved', 'went', 'go', 'goes',
  'visit', 'visited', 'born', 'works', 'worked', 'founded', 'meet', 'met', 'see', 'saw', 'make', 'made',
  'think', 'said', 'says', 'play', 'plays', 'playing', 'eat', 'eats', 'drink', 'drinks', 'speak', 'speaks',
  'read', 'reads', 'write', 'sleep', 'sleeps', 'sits', 'mat', 'barked', 'meowed', 'flew', 'rang', 'loudly',
  'every', 'morning', 'night', 'example', 'company', 'organization', 'hello', 'thanks', 'please', 'yes',
  'product', 'price', 'quality', 'delivery', 'order', 'experience', 'place', 'new', 'old', 'big', 'small',
  'quick', 'brown', 'fox', 'jumps', 'lazy', 'once', 'upon', 'little', 'forest', 'name', 'serve', 'models',
] as const;

/** What the text-generation model has "read": greedy decoding continues these sentences exactly. */
export const GENERATION_CORPUS = [
  'Once upon a time there was a little fox who lived in a forest.',
  'The quick brown fox jumps over the lazy dog.',
  'Hello, my name is Hubserve and I serve models on the web.',
] as const;

/** Word-by-word English -> French for the translation model; other words are copied through. */
// prettier-ignore
export const EN_FR: Record<string, string> = {
  the: 'le', a: 'un', cat: 'chat', dog: 'chien', house: 'maison', water: 'eau', bread: 'pain',
  eats: 'mange', drinks: 'boit', is: 'est', are: 'sont', i: 'je', you: 'tu', we: 'nous', love: 'aime',
  hello: 'bonjour', world: 'monde', thanks: 'merci', big: 'grand', small: 'petit', red: 'rouge',
  and: 'et', with: 'avec', good: 'bon', morning: 'matin', friend: 'ami', my: 'mon', car: 'voiture',
};
