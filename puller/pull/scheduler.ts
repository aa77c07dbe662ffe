// Bounded-concurrency work queue for a pull: metadata fetches go before
// content, at most `max` tasks run, the first failure stops new work and is
// reported once everything in flight has settled.

export type Task = () => Promise<void>;

export class Scheduler {
  private readonly meta: Task[] = [];
  private readonly content: Task[] = [];
  private active = 0;
  private failure: unknown = undefined;
  private failed = false;
  private waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];

  constructor(private readonly max: number) {}

  /** Queue a metadata task (runs before any queued content task). */
  addMeta(task: Task): void {
    this.meta.push(task);
    this.pump();
  }

  addContent(task: Task): void {
    this.content.push(task);
    this.pump();
  }

  /** Resolves when every queued task has run, or rejects with the first failure. */
  idle(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.settle();
    });
  }

  private pump(): void {
    while (!this.failed && this.active < this.max) {
      const task = this.meta.shift() ?? this.content.shift();
      if (!task) break;
      this.active++;
      task().catch((err: unknown) => {
        if (!this.failed) { this.failed = true; this.failure = err; }
      }).finally(() => {
        this.active--;
        this.pump();
        this.settle();
      });
    }
  }

  private settle(): void {
    if (this.active > 0) return;
    if (!this.failed && (this.meta.length > 0 || this.content.length > 0)) return;
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) (this.failed ? w.reject(this.failure) : w.resolve());
  }
}
