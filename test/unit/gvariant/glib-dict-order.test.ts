// GVariantDict serialisation order, against orders recorded from GLib 2.74.
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { glibDictOrder, gStrHash } from '../../../shared/gvariant/glib-dict-order.js';

const cases = (JSON.parse(readFileSync(new URL('../../fixtures/vectors/glib-dict-order.json', import.meta.url), 'utf8')) as {
  cases: { inserted: string[]; serialised: string[] }[];
}).cases;

it('matches GLib for small and resized tables', () => {
  expect(cases.length).toBeGreaterThan(20);
  for (const c of cases) expect(glibDictOrder(c.inserted)).toEqual(c.serialised);
});

it('g_str_hash is djb2 over signed chars', () => {
  expect(gStrHash('')).toBe(5381);
  expect(gStrHash('a')).toBe((5381 * 33 + 97) >>> 0);
  expect(gStrHash('é')).toBe((((5381 * 33 - 61) >>> 0) * 33 - 87) >>> 0);
});

it('puts version before ostree.ref-binding as ostree commit does', () => {
  expect(glibDictOrder(['ostree.ref-binding', 'version'])).toEqual(['version', 'ostree.ref-binding']);
});
