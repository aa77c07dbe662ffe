// GLib-produced vectors: decode → re-encode must give the same bytes, and the
// large framing-offset boundary cases must come out of our encoder exactly.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../../shared/gvariant/index.js';
import { fromHex, toHex } from '../../helpers/hex.js';

interface Case { type: string; text: string; len: number; note: string; hex?: string; hex_head?: string; hex_tail?: string }
const cases = (JSON.parse(readFileSync(new URL('../../fixtures/vectors/gvariant-basic.json', import.meta.url), 'utf8')) as { cases: Case[] }).cases;

describe('GLib vectors', () => {
  for (const c of cases.filter((c) => c.hex !== undefined)) {
    it(`${c.type} ${c.text.slice(0, 40)} round-trips`, () => {
      const bytes = fromHex(c.hex ?? '');
      const value = decode(c.type, bytes);
      expect(toHex(encode(c.type, value))).toBe(c.hex);
    });
  }
  for (const c of cases.filter((c) => c.hex === undefined)) {
    it(`${c.type} boundary: ${c.note}`, () => {
      const n = Number(/length (\d+)/.exec(c.note)?.[1]);
      const bytes = encode(c.type, ['x'.repeat(n)]);
      expect(bytes.length).toBe(c.len);
      expect(toHex(bytes.subarray(0, 16))).toBe(c.hex_head);
      expect(toHex(bytes.subarray(bytes.length - 16))).toBe(c.hex_tail);
      expect(decode(c.type, bytes)).toEqual(['x'.repeat(n)]);
    });
  }
});
