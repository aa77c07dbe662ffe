// Commit metadata as `ostree commit` lays it out: user keys in the order
// given, and — when ref bindings are added — the whole dict re-serialised in
// GVariantDict (hash table) order, so the commit bytes match ostree's. Pure.
import { glibDictOrder } from '../gvariant/glib-dict-order.js';
import { Variant, type Vardict, type VardictEntry } from '../gvariant/index.js';

export interface MetadataOptions {
  /** User metadata in command-line order (--add-metadata-string, --add-metadata). */
  entries: readonly VardictEntry[];
  /** Refs for `ostree.ref-binding` (empty or undefined: no binding, as with --no-bindings or --orphan). */
  refBindings?: readonly string[];
  /** `ostree.collection-binding`, when the repo has a collection ID. */
  collectionId?: string;
}

/** Build the commit's a{sv} exactly as ostree 2022.7's commit builtin does. */
export function buildCommitMetadata(opts: MetadataOptions): Vardict {
  const bindings: VardictEntry[] = [];
  if (opts.refBindings && opts.refBindings.length > 0) {
    bindings.push(['ostree.ref-binding', new Variant('as', [...opts.refBindings].sort())]);
  }
  if (opts.collectionId) bindings.push(['ostree.collection-binding', new Variant('s', opts.collectionId)]);
  if (bindings.length === 0) return [...opts.entries];
  const latest = new Map<string, Variant>();
  for (const [k, v] of [...opts.entries, ...bindings]) latest.set(k, v);
  return glibDictOrder([...opts.entries, ...bindings].map(([k]) => k)).map((k) => [k, latest.get(k) as Variant] as const);
}
