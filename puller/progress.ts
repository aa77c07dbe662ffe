// A one-line progress display on stderr, drawn only when stderr is a TTY and
// at most ten times a second.
import type { Output } from './context.js';

export class Progress {
  private last = 0;
  private drawn = false;

  constructor(private readonly io: Output, private readonly label: string) {}

  update(done: number, total?: number, extra = ''): void {
    if (!this.io.isTTY) return;
    const now = Date.now();
    if (now - this.last < 100) return;
    this.last = now;
    const pct = total ? ` ${Math.floor((done / total) * 100)}%` : '';
    const bar = total ? ` [${'#'.repeat(Math.floor((done / total) * 20)).padEnd(20, '.')}]` : '';
    process.stderr.write(`\r${this.label}${bar}${pct} ${done}${total ? `/${total}` : ''} ${extra}\x1b[K`);
    this.drawn = true;
  }

  done(): void {
    if (this.drawn) process.stderr.write('\r\x1b[K');
  }
}
