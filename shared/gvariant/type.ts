// GVariant type strings → TypeInfo (alignment, fixed size), memoised.
// Implements ../shared/spec/gvariant.md §1.
import { OtError } from '../errors.js';

/** Maximum container nesting accepted in a type string (GLib's G_VARIANT_MAX_RECURSION_DEPTH). */
export const MAX_TYPE_DEPTH = 128;

export type BasicChar = 'y' | 'b' | 'n' | 'q' | 'i' | 'u' | 'h' | 'x' | 't' | 'd' | 's' | 'o' | 'g';

/** Parsed form of a single complete GVariant type. `fixedSize` is null for variable-size types. */
export type TypeInfo =
  | { kind: 'basic'; char: BasicChar; text: string; align: number; fixedSize: number | null }
  | { kind: 'variant'; text: 'v'; align: 8; fixedSize: null }
  | { kind: 'array'; elem: TypeInfo; text: string; align: number; fixedSize: null }
  | { kind: 'maybe'; elem: TypeInfo; text: string; align: number; fixedSize: null }
  | { kind: 'tuple'; members: TypeInfo[]; dictEntry: boolean; text: string; align: number; fixedSize: number | null };

const BASIC: Record<BasicChar, [align: number, size: number | null]> = {
  y: [1, 1], b: [1, 1], n: [2, 2], q: [2, 2], i: [4, 4], u: [4, 4], h: [4, 4],
  x: [8, 8], t: [8, 8], d: [8, 8], s: [1, null], o: [1, null], g: [1, null],
};

const cache = new Map<string, TypeInfo>();

/**
 * Parse one complete type string. Throws OtError ERR_BAD_FORMAT for an invalid
 * or over-deep type. Pure; results are cached.
 */
export function parseType(text: string): TypeInfo {
  const hit = cache.get(text);
  if (hit) return hit;
  const [info, end] = parseAt(text, 0, 0);
  if (end !== text.length) throw badType(text, end, 'trailing characters');
  if (cache.size < 4096) cache.set(text, info);
  return info;
}

/** Round `n` up to a multiple of `align` (a power of two). */
export function alignUp(n: number, align: number): number {
  return (n + align - 1) & ~(align - 1);
}

function badType(text: string, offset: number, why: string): OtError {
  return new OtError('ERR_BAD_FORMAT', `Invalid GVariant type '${text}' at ${offset}: ${why}`, { offset });
}

function parseAt(text: string, pos: number, depth: number): [TypeInfo, number] {
  if (depth > MAX_TYPE_DEPTH) throw badType(text, pos, 'nesting too deep');
  const c = text[pos];
  if (c === undefined) throw badType(text, pos, 'unexpected end');
  if (c in BASIC) {
    const [align, fixedSize] = BASIC[c as BasicChar];
    return [{ kind: 'basic', char: c as BasicChar, text: c, align, fixedSize }, pos + 1];
  }
  if (c === 'v') return [{ kind: 'variant', text: 'v', align: 8, fixedSize: null }, pos + 1];
  if (c === 'a' || c === 'm') {
    const [elem, end] = parseAt(text, pos + 1, depth + 1);
    const kind = c === 'a' ? 'array' : 'maybe';
    return [{ kind, elem, text: text.slice(pos, end), align: elem.align, fixedSize: null }, end];
  }
  if (c === '(' || c === '{') {
    const close = c === '(' ? ')' : '}';
    const members: TypeInfo[] = [];
    let p = pos + 1;
    while (text[p] !== close) {
      if (p >= text.length) throw badType(text, p, `missing '${close}'`);
      const [m, end] = parseAt(text, p, depth + 1);
      members.push(m);
      p = end;
    }
    const dictEntry = c === '{';
    if (dictEntry && (members.length !== 2 || members[0]?.kind !== 'basic')) {
      throw badType(text, pos, 'a dict entry needs a basic key and one value');
    }
    return [tupleInfo(members, dictEntry, text.slice(pos, p + 1)), p + 1];
  }
  throw badType(text, pos, `unknown type character '${c}'`);
}

function tupleInfo(members: TypeInfo[], dictEntry: boolean, text: string): TypeInfo {
  let align = 1;
  let offset = 0;
  let fixed = true;
  for (const m of members) {
    align = Math.max(align, m.align);
    if (m.fixedSize === null) fixed = false;
    else offset = alignUp(offset, m.align) + m.fixedSize;
  }
  let fixedSize: number | null = null;
  if (fixed) fixedSize = members.length === 0 ? 1 : alignUp(offset, align);
  return { kind: 'tuple', members, dictEntry, text, align, fixedSize };
}

/** Bytes per framing offset for a container of total size `size` (reader rule, spec §4). */
export function offsetWidth(size: number): number {
  if (size === 0) return 0;
  if (size <= 0xff) return 1;
  if (size <= 0xffff) return 2;
  if (size <= 0xffffffff) return 4;
  return 8;
}
