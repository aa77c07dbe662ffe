// An in-memory LRU of loose objects (small ones, and large ones served from one buffer). Objects are named by their
// checksum, so a cached body is always that object's content; nothing else
// (refs, summary, detached .commitmeta — which gains signatures —, deltas,
// which can be regenerated under the same name) is ever cached. nginx gets the same effect from open_file_cache + the page
// cache; without it every request costs open/fstat/read/close
// (bench/serve.ts profile: ~40% of a worker's time).

/** Entries up to this size are limited by the budget alone. */
const SMALL_ENTRY = 64 * 1024;

export interface CachedFile { body: Buffer; size: number; mtimeMs: number }

export class ObjectCache {
  private readonly entries = new Map<string, CachedFile>();
  private bytes = 0;

  /** `budget` bytes in total; entries larger than `maxEntry` are not kept. */
  constructor(private readonly budget: number, private readonly maxEntry = 64 * 1024) {}

  get(rel: string): CachedFile | undefined {
    const hit = this.entries.get(rel);
    if (hit) { this.entries.delete(rel); this.entries.set(rel, hit); }
    return hit;
  }

  set(rel: string, file: CachedFile): void {
    // A large entry (over SMALL_ENTRY) may take at most an eighth of the budget, so a few never flush the small ones.
    if (file.size > this.maxEntry || file.size > this.budget || (file.size > SMALL_ENTRY && file.size > this.budget / 8) || this.entries.has(rel)) return;
    this.entries.set(rel, file);
    this.bytes += file.size;
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.budget) break;
      this.entries.delete(k);
      this.bytes -= v.size;
    }
  }

  /** Forget everything (e.g. after a prune, to give memory back). */
  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  get size(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.bytes };
  }
}
