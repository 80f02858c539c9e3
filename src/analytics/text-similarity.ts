// Issue 9: related products by TF-IDF cosine, and near-duplicates by word-shingle Jaccard. Pure:
// the caller hands in only the text a reader may read, so every statistic here (document
// frequencies included) is computed over readable text and nothing else.

// Minimal English stop words: the function words that link nearly every pair of reports.
const STOP_WORDS = new Set([
  'a',
  'an',
  'and',
  'are',
  'as',
  'at',
  'be',
  'by',
  'for',
  'from',
  'has',
  'have',
  'in',
  'is',
  'it',
  'its',
  'of',
  'on',
  'or',
  'that',
  'the',
  'this',
  'to',
  'was',
  'were',
  'with',
]);

/**
 * The terms of a text: lower-cased Unicode words (letters and digits, NFC), one-character words and
 * stop words dropped. Diacritics are kept: SQLite FTS5's unicode61 tokenizer folds them, so the
 * index finds a superset of the products holding a term, which the caller narrows by these terms.
 */
export function termsOf(text: string): string[] {
  const words =
    text
      .normalize('NFC')
      .toLowerCase()
      .match(/[\p{L}\p{M}\p{N}]+/gu) ?? [];
  return words.filter((w) => w.length > 1 && !STOP_WORDS.has(w));
}

/** How often each term occurs over `texts`. */
export function termCountsOf(texts: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const text of texts) for (const term of termsOf(text)) counts.set(term, (counts.get(term) ?? 0) + 1);
  return counts;
}

/**
 * The terms of a document that select its candidates: the `max` most frequent in it, longer first
 * among equals, then alphabetical. Chosen from the document alone, never from corpus statistics.
 */
export function queryTermsOf(counts: ReadonlyMap<string, number>, max: number): string[] {
  return [...counts]
    .sort((a, b) => b[1] - a[1] || b[0].length - a[0].length || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, max)
    .map(([term]) => term);
}

/** A document for TF-IDF: a caller's key and its term counts. */
export interface TermDocument {
  readonly key: string;
  readonly counts: ReadonlyMap<string, number>;
}

/** One document ranked against the subject. */
export interface SimilarDocument {
  readonly key: string;
  /** Cosine of the TF-IDF vectors, in (0, 1]. */
  readonly score: number;
  /** The shared terms weighing most in the score, at most five. */
  readonly terms: readonly string[];
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Ranks `candidates` by TF-IDF cosine with `subject`. The corpus is the subject and the candidates
 * holding at least one of `queryTerms` (the others are dropped): a term's document frequency counts
 * documents of that corpus only. Every query term's frequency is therefore exact over any larger
 * corpus whose documents holding it are all candidates. Term weight (1 + ln tf) · idf, idf =
 * ln((1 + N) / (1 + df)) + 1 (smoothed, so never zero). Highest score first, then key; sums run
 * in term order so equal inputs give bit-identical scores.
 */
export function rankBySimilarity(
  subject: TermDocument,
  candidates: readonly TermDocument[],
  queryTerms: readonly string[],
  limit: number,
): SimilarDocument[] {
  const corpus = candidates.filter((c) => c.key !== subject.key && queryTerms.some((t) => c.counts.has(t)));
  if (corpus.length === 0) return [];
  const df = new Map<string, number>();
  for (const doc of [subject, ...corpus])
    for (const term of doc.counts.keys()) df.set(term, (df.get(term) ?? 0) + 1);
  const n = corpus.length + 1;
  const weightsOf = (doc: TermDocument): { weights: Map<string, number>; norm: number } => {
    const weights = new Map<string, number>();
    let sum = 0;
    for (const term of [...doc.counts.keys()].sort(byString)) {
      const tf = doc.counts.get(term) ?? 0;
      const w = (1 + Math.log(tf)) * (Math.log((1 + n) / (1 + (df.get(term) ?? 0))) + 1);
      weights.set(term, w);
      sum += w * w;
    }
    return { weights, norm: Math.sqrt(sum) };
  };
  const mine = weightsOf(subject);
  const mineTerms = [...mine.weights.keys()];
  const ranked: SimilarDocument[] = [];
  for (const doc of corpus) {
    const other = weightsOf(doc);
    const shared: { term: string; product: number }[] = [];
    let dot = 0;
    for (const term of mineTerms) {
      const w = other.weights.get(term);
      if (w === undefined) continue;
      const product = w * (mine.weights.get(term) ?? 0);
      dot += product;
      shared.push({ term, product });
    }
    if (dot <= 0) continue;
    ranked.push({
      key: doc.key,
      score: Math.min(1, dot / (mine.norm * other.norm)),
      terms: shared
        .sort((a, b) => b.product - a.product || byString(a.term, b.term))
        .slice(0, 5)
        .map((s) => s.term),
    });
  }
  return ranked.sort((a, b) => b.score - a.score || byString(a.key, b.key)).slice(0, limit);
}

/** Word shingles of length `k` (joined by a space); a text of fewer words is one shingle of them all. */
export function shinglesOf(texts: readonly string[], k = 3): Set<string> {
  const words = texts.flatMap((t) => termsOf(t));
  const shingles = new Set<string>();
  if (words.length === 0) return shingles;
  if (words.length < k) {
    shingles.add(words.join(' '));
    return shingles;
  }
  for (let i = 0; i + k <= words.length; i++) shingles.add(words.slice(i, i + k).join(' '));
  return shingles;
}

/** |a ∩ b| / |a ∪ b|; 0 for two empty sets. */
export function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let shared = 0;
  for (const s of small) if (large.has(s)) shared++;
  const union = a.size + b.size - shared;
  return union === 0 ? 0 : shared / union;
}

/** A document for near-duplicate clustering: a key, the group it came from (its originator), its shingles. */
export interface ShingledDocument {
  readonly key: string;
  readonly group: string;
  readonly shingles: ReadonlySet<string>;
}

/** Documents whose text is nearly the same, from at least two groups. */
export interface DuplicateCluster {
  /** Member keys, sorted. */
  readonly keys: readonly string[];
  /** The distinct groups of the members, sorted. */
  readonly groups: readonly string[];
  /** The lowest Jaccard similarity among the pairs that joined the cluster. */
  readonly similarity: number;
}

/**
 * Clusters documents linked by shingle Jaccard ≥ `threshold` (connected components) and keeps the
 * clusters spanning at least two groups. Candidate pairs come from an exact prefix filter (Chaudhuri
 * et al., ICDE 2006): with the shingles of every document in one global order (rarest first, over
 * these documents only), two sets with Jaccard ≥ t share a shingle among their first
 * |s| − ⌈t·|s|⌉ + 1, so no pair at or above the threshold is missed. Largest cluster first, then by
 * first key.
 */
export function clusterNearDuplicates(
  documents: readonly ShingledDocument[],
  threshold: number,
): DuplicateCluster[] {
  const docs = documents.filter((d) => d.shingles.size > 0).sort((a, b) => byString(a.key, b.key));
  const frequency = new Map<string, number>();
  for (const d of docs) for (const s of d.shingles) frequency.set(s, (frequency.get(s) ?? 0) + 1);
  const order = (a: string, b: string) => (frequency.get(a) ?? 0) - (frequency.get(b) ?? 0) || byString(a, b);
  const parent = docs.map((_, i) => i);
  const find = (i: number): number => {
    let root = i;
    while (parent[root] !== root) root = parent[root] as number;
    while (parent[i] !== root) {
      const next = parent[i] as number;
      parent[i] = root;
      i = next;
    }
    return root;
  };
  const edges: { a: number; b: number; similarity: number }[] = [];
  const byPrefix = new Map<string, number[]>();
  for (const [i, doc] of docs.entries()) {
    const sorted = [...doc.shingles].sort(order);
    // The 1e-9 keeps t·|s| that floating point puts a hair above a whole number from shortening the prefix.
    const prefix = sorted.length - Math.ceil(threshold * sorted.length - 1e-9) + 1;
    const seen = new Set<number>();
    for (const s of sorted.slice(0, Math.max(1, prefix))) {
      const earlier = byPrefix.get(s) ?? [];
      for (const j of earlier) {
        if (seen.has(j)) continue;
        seen.add(j);
        const similarity = jaccard(doc.shingles, (docs[j] as ShingledDocument).shingles);
        if (similarity >= threshold) edges.push({ a: j, b: i, similarity });
      }
      earlier.push(i);
      byPrefix.set(s, earlier);
    }
  }
  for (const { a, b } of edges) parent[find(a)] = find(b);
  const components = new Map<number, { members: number[]; similarity: number }>();
  for (const [i] of docs.entries()) {
    const root = find(i);
    const c = components.get(root) ?? { members: [], similarity: 1 };
    c.members.push(i);
    components.set(root, c);
  }
  for (const { a, similarity } of edges) {
    const c = components.get(find(a));
    if (c !== undefined) c.similarity = Math.min(c.similarity, similarity);
  }
  const clusters: DuplicateCluster[] = [];
  for (const { members, similarity } of components.values()) {
    const groups = [...new Set(members.map((i) => (docs[i] as ShingledDocument).group))].sort(byString);
    if (members.length < 2 || groups.length < 2) continue;
    clusters.push({
      keys: members.map((i) => (docs[i] as ShingledDocument).key).sort(byString),
      groups,
      similarity,
    });
  }
  return clusters.sort((a, b) => b.keys.length - a.keys.length || byString(a.keys[0] ?? '', b.keys[0] ?? ''));
}
