// The server's object cache: LRU by bytes, bounded; large entries at most an eighth of it.
import { describe, expect, it } from 'vitest';
import { ObjectCache } from '../../../server/read/object-cache.js';

const file = (n: number, fill = 1) => ({ body: Buffer.alloc(n, fill), size: n, mtimeMs: 0 });

describe('ObjectCache', () => {
  it('keeps entries within the byte budget, evicting the least recently used', () => {
    const c = new ObjectCache(300, 200);
    c.set('a', file(100));
    c.set('b', file(100));
    c.set('c', file(100));
    expect(c.get('a')).toBeDefined(); // a is now the most recent
    c.set('d', file(100));
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')?.size).toBe(100);
    expect(c.get('c')).toBeDefined();
    expect(c.get('d')).toBeDefined();
    expect(c.size).toEqual({ entries: 3, bytes: 300 });
  });
  it('refuses entries above maxEntry or the budget, and a zero budget caches nothing', () => {
    const c = new ObjectCache(1000, 200);
    c.set('big', file(201));
    expect(c.get('big')).toBeUndefined();
    const none = new ObjectCache(0);
    none.set('x', file(10));
    expect(none.get('x')).toBeUndefined();
    expect(none.size.bytes).toBe(0);
  });
  it('a large entry may take at most an eighth of the budget', () => {
    const c = new ObjectCache(1 << 20, 4 << 20);
    c.set('large', file(200_000));
    expect(c.get('large')).toBeUndefined();
    c.set('fits', file(100_000));
    expect(c.get('fits')?.size).toBe(100_000);
  });
  it('does not double-count a path set twice', () => {
    const c = new ObjectCache(1000);
    c.set('a', file(100));
    c.set('a', file(100, 2));
    expect(c.size).toEqual({ entries: 1, bytes: 100 });
    expect(c.get('a')?.body[0]).toBe(1);
  });
});
