// GVariant reader: bytes → values. Total: any input yields a value or an
// OtError with the offset of the problem; it never allocates from a length read
// out of its input. Untrusted input must also be in normal form
// (../shared/spec/gvariant.md §5–§6).
import { OtError } from '../errors.js';
import { encode } from './encode.js';
import { alignUp, offsetWidth, parseType, type TypeInfo } from './type.js';
import { Variant, type Value } from './value.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Limit on nested variants inside one value (GLib's recursion limit). */
const MAX_VARIANT_DEPTH = 128;

export interface DecodeOptions {
  /**
   * Bytes we wrote ourselves may skip the normal-form check. Default false:
   * input must be in normal form (ERR_NOT_NORMAL_FORM otherwise).
   */
  trusted?: boolean;
}

/**
 * Decode `bytes` as `type`. Pure. Throws OtError ERR_BAD_FORMAT (with `offset`)
 * for malformed input and ERR_NOT_NORMAL_FORM for input that parses but is not
 * in normal form.
 */
export function decode(type: string | TypeInfo, bytes: Uint8Array, opts: DecodeOptions = {}): Value {
  const info = typeof type === 'string' ? parseType(type) : type;
  let value: Value;
  try {
    value = new Reader(bytes).read(info, 0, bytes.length, 0);
  } catch (err: unknown) {
    if (err instanceof OtError) throw err;
    throw new OtError('ERR_BAD_FORMAT', `Malformed GVariant '${info.text}': ${String(err)}`, { cause: err, offset: 0 });
  }
  if (!opts.trusted) assertNormalForm(info, bytes, value);
  return value;
}

function assertNormalForm(info: TypeInfo, bytes: Uint8Array, value: Value): void {
  let again: Uint8Array;
  try {
    again = encode(info, value);
  } catch (err: unknown) {
    throw new OtError('ERR_NOT_NORMAL_FORM', `Not normal form: GVariant '${info.text}' cannot be re-serialised`, { cause: err });
  }
  const n = Math.min(again.length, bytes.length);
  let i = 0;
  while (i < n && again[i] === bytes[i]) i++;
  if (i !== again.length || i !== bytes.length) {
    throw new OtError('ERR_NOT_NORMAL_FORM', `Not normal form: GVariant '${info.text}' differs from its canonical encoding at offset ${i}`, { offset: i });
  }
}

class Reader {
  private readonly dv: DataView;
  constructor(private readonly buf: Uint8Array) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private fail(offset: number, why: string, info: TypeInfo): never {
    throw new OtError('ERR_BAD_FORMAT', `Malformed GVariant '${info.text}' at offset ${offset}: ${why}`, { offset });
  }

  read(info: TypeInfo, start: number, end: number, depth: number): Value {
    if (info.fixedSize !== null && end - start !== info.fixedSize) {
      this.fail(start, `expected ${info.fixedSize} bytes, found ${end - start}`, info);
    }
    switch (info.kind) {
      case 'basic': return this.basic(info, start, end);
      case 'variant': return this.variant(start, end, depth);
      case 'maybe': return this.maybe(info, start, end, depth);
      case 'array': return this.array(info, start, end, depth);
      case 'tuple': return this.tuple(info, start, end, depth);
    }
  }

  private basic(info: TypeInfo & { kind: 'basic' }, start: number, end: number): Value {
    const dv = this.dv;
    switch (info.char) {
      case 'y': return dv.getUint8(start);
      case 'b': {
        const b = dv.getUint8(start);
        if (b > 1) this.fail(start, `boolean byte ${b}`, info);
        return b === 1;
      }
      case 'n': return dv.getInt16(start, true);
      case 'q': return dv.getUint16(start, true);
      case 'i': case 'h': return dv.getInt32(start, true);
      case 'u': return dv.getUint32(start, true);
      case 'x': return dv.getBigInt64(start, true);
      case 't': return dv.getBigUint64(start, true);
      case 'd': return dv.getFloat64(start, true);
      default: return this.string(info, start, end);
    }
  }

  private string(info: TypeInfo, start: number, end: number): string {
    if (end <= start || this.buf[end - 1] !== 0) this.fail(start, 'string is not NUL-terminated', info);
    const body = this.buf.subarray(start, end - 1);
    const nul = body.indexOf(0);
    if (nul !== -1) this.fail(start + nul, 'string contains NUL', info);
    try {
      return utf8.decode(body);
    } catch {
      return this.fail(start, 'string is not valid UTF-8', info);
    }
  }

  private variant(start: number, end: number, depth: number): Value {
    const info = parseType('v');
    if (depth >= MAX_VARIANT_DEPTH) this.fail(start, 'variants nested too deep', info);
    const sep = this.buf.subarray(start, end).lastIndexOf(0);
    if (sep === -1) this.fail(start, 'variant has no type separator', info);
    const typeText = String.fromCharCode(...this.buf.subarray(start + sep + 1, end));
    let child: TypeInfo;
    try {
      child = parseType(typeText);
    } catch {
      return this.fail(start + sep + 1, `variant holds invalid type '${typeText}'`, info);
    }
    return new Variant(child.text, this.read(child, start, start + sep, depth + 1));
  }

  private maybe(info: TypeInfo & { kind: 'maybe' }, start: number, end: number, depth: number): Value {
    if (end === start) return null;
    if (info.elem.fixedSize !== null) return this.read(info.elem, start, end, depth);
    if (this.buf[end - 1] !== 0) this.fail(end - 1, 'maybe is missing its trailing zero', info);
    return this.read(info.elem, start, end - 1, depth);
  }

  private readOffset(pos: number, w: number): number {
    let v = 0;
    for (let i = w - 1; i >= 0; i--) v = v * 256 + (this.buf[pos + i] ?? 0);
    return v;
  }

  private array(info: TypeInfo & { kind: 'array' }, start: number, end: number, depth: number): Value {
    const elem = info.elem;
    const size = end - start;
    if (elem.fixedSize !== null) {
      if (elem.kind === 'basic' && elem.char === 'y') return this.buf.subarray(start, end);
      if (size % elem.fixedSize !== 0) this.fail(start, `array size ${size} is not a multiple of ${elem.fixedSize}`, info);
      const out: Value[] = [];
      for (let p = start; p < end; p += elem.fixedSize) out.push(this.read(elem, p, p + elem.fixedSize, depth));
      return out;
    }
    if (size === 0) return [];
    const w = offsetWidth(size);
    const tableStart = this.readOffset(end - w, w);
    if (tableStart > size - w || (size - tableStart) % w !== 0) this.fail(end - w, `bad array offset table start ${tableStart}`, info);
    const count = (size - tableStart) / w;
    const out: Value[] = [];
    let prev = 0;
    for (let i = 0; i < count; i++) {
      const elemEnd = this.readOffset(start + tableStart + i * w, w);
      const elemStart = alignUp(prev, elem.align);
      if (elemStart > elemEnd || elemEnd > tableStart) this.fail(start + tableStart + i * w, `element ${i} has bad bounds ${elemStart}..${elemEnd}`, info);
      out.push(this.read(elem, start + elemStart, start + elemEnd, depth));
      prev = elemEnd;
    }
    return out;
  }

  private tuple(info: TypeInfo & { kind: 'tuple' }, start: number, end: number, depth: number): Value {
    const members = info.members;
    if (members.length === 0) {
      if (this.buf[start] !== 0) this.fail(start, 'unit tuple must be a zero byte', info);
      return [];
    }
    const size = end - start;
    const w = info.fixedSize === null ? offsetWidth(size) : 0;
    let offsetIndex = 0;
    let tableEnd = size;
    let pos = 0;
    const out: Value[] = [];
    members.forEach((m, i) => {
      const mStart = alignUp(pos, m.align);
      let mEnd: number;
      if (m.fixedSize !== null) {
        mEnd = mStart + m.fixedSize;
      } else if (i === members.length - 1) {
        mEnd = tableEnd;
      } else {
        offsetIndex++;
        const at = size - offsetIndex * w;
        if (at < 0) this.fail(start, 'tuple offset table overruns the tuple', info);
        mEnd = this.readOffset(start + at, w);
        tableEnd = at;
      }
      if (mStart > mEnd || mEnd > tableEnd) this.fail(start + mStart, `member ${i} has bad bounds ${mStart}..${mEnd}`, info);
      out.push(this.read(m, start + mStart, start + mEnd, depth));
      pos = mEnd;
    });
    return out;
  }
}
