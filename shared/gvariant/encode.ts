// GVariant serialiser: values → bytes, always in normal form, matching GLib
// byte for byte (../shared/spec/gvariant.md §3–§4). Numbers are written
// little-endian (GLib on x86); OSTree's big-endian fields are swapped by the
// object layer before they get here.
import { OtError } from '../errors.js';
import { alignUp, parseType, type TypeInfo } from './type.js';
import { Variant, type Value } from './value.js';

const utf8 = new TextEncoder();

/** Serialise `value` as `type`. Pure. Throws ERR_INVALID_ARGUMENT when the value does not fit the type. */
export function encode(type: string | TypeInfo, value: Value): Uint8Array {
  const info = typeof type === 'string' ? parseType(type) : type;
  return encodeValue(info, value);
}

function mismatch(info: TypeInfo, value: Value): OtError {
  const shown = value instanceof Uint8Array ? `bytes[${value.length}]` : typeof value;
  return new OtError('ERR_INVALID_ARGUMENT', `Value of kind ${shown} does not fit GVariant type '${info.text}'`);
}

function encodeValue(info: TypeInfo, value: Value): Uint8Array {
  switch (info.kind) {
    case 'basic': return encodeBasic(info, value);
    case 'variant': return encodeVariant(value);
    case 'maybe': return encodeMaybe(info, value);
    case 'array': return encodeArray(info, value);
    case 'tuple': return encodeTuple(info, value);
  }
}

function encodeBasic(info: TypeInfo & { kind: 'basic' }, value: Value): Uint8Array {
  const c = info.char;
  if (c === 's' || c === 'o' || c === 'g') {
    if (typeof value !== 'string') throw mismatch(info, value);
    const bytes = utf8.encode(value);
    if (bytes.includes(0)) throw new OtError('ERR_INVALID_ARGUMENT', 'GVariant strings cannot contain NUL');
    const out = new Uint8Array(bytes.length + 1);
    out.set(bytes);
    return out;
  }
  const out = new Uint8Array(info.fixedSize ?? 0);
  const dv = new DataView(out.buffer);
  if (c === 'b') {
    if (typeof value !== 'boolean') throw mismatch(info, value);
    out[0] = value ? 1 : 0;
    return out;
  }
  if (c === 'x' || c === 't') {
    if (typeof value !== 'bigint') throw mismatch(info, value);
    if (c === 't') dv.setBigUint64(0, BigInt.asUintN(64, value), true);
    else dv.setBigInt64(0, BigInt.asIntN(64, value), true);
    return out;
  }
  if (typeof value !== 'number') throw mismatch(info, value);
  switch (c) {
    case 'y': dv.setUint8(0, value); break;
    case 'n': dv.setInt16(0, value, true); break;
    case 'q': dv.setUint16(0, value, true); break;
    case 'i': case 'h': dv.setInt32(0, value, true); break;
    case 'u': dv.setUint32(0, value >>> 0, true); break;
    case 'd': dv.setFloat64(0, value, true); break;
  }
  return out;
}

function encodeVariant(value: Value): Uint8Array {
  if (!(value instanceof Variant)) throw new OtError('ERR_INVALID_ARGUMENT', 'GVariant type v needs a Variant');
  const child = encodeValue(parseType(value.type), value.value);
  const sig = utf8.encode(value.type);
  const out = new Uint8Array(child.length + 1 + sig.length);
  out.set(child);
  out.set(sig, child.length + 1);
  return out;
}

function encodeMaybe(info: TypeInfo & { kind: 'maybe' }, value: Value): Uint8Array {
  if (value === null) return new Uint8Array(0);
  const child = encodeValue(info.elem, value);
  if (info.elem.fixedSize !== null) return child;
  const out = new Uint8Array(child.length + 1);
  out.set(child);
  return out;
}

/** Accumulates container bytes with zero padding; positions are relative to the container start. */
class Body {
  private chunks: Uint8Array[] = [];
  size = 0;
  pad(align: number): void {
    const target = alignUp(this.size, align);
    if (target > this.size) this.push(new Uint8Array(target - this.size));
  }
  push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.size += bytes.length;
  }
  /** Append framing offsets (in the given order) with the minimal width, and return the whole container. */
  finish(offsets: number[]): Uint8Array {
    if (offsets.length === 0) return concat(this.chunks, this.size);
    const w = writerWidth(this.size, offsets.length);
    const total = this.size + w * offsets.length;
    const out = new Uint8Array(total);
    let p = 0;
    for (const c of this.chunks) { out.set(c, p); p += c.length; }
    for (const off of offsets) { writeOffset(out, p, w, off); p += w; }
    return out;
  }
}

function writerWidth(body: number, count: number): number {
  if (body + count <= 0xff) return 1;
  if (body + 2 * count <= 0xffff) return 2;
  if (body + 4 * count <= 0xffffffff) return 4;
  return 8;
}

function writeOffset(out: Uint8Array, p: number, w: number, value: number): void {
  let v = value;
  for (let i = 0; i < w; i++) { out[p + i] = v & 0xff; v = Math.floor(v / 256); }
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1 && chunks[0]) return chunks[0];
  const out = new Uint8Array(size);
  let p = 0;
  for (const c of chunks) { out.set(c, p); p += c.length; }
  return out;
}

function encodeArray(info: TypeInfo & { kind: 'array' }, value: Value): Uint8Array {
  const elem = info.elem;
  if (elem.kind === 'basic' && elem.char === 'y') {
    if (!(value instanceof Uint8Array)) throw mismatch(info, value);
    return value;
  }
  if (!Array.isArray(value)) throw mismatch(info, value);
  const items = value as readonly Value[];
  const body = new Body();
  const offsets: number[] = [];
  for (const item of items) {
    body.pad(elem.align);
    body.push(encodeValue(elem, item));
    if (elem.fixedSize === null) offsets.push(body.size);
  }
  return body.finish(offsets);
}

function encodeTuple(info: TypeInfo & { kind: 'tuple' }, value: Value): Uint8Array {
  if (!Array.isArray(value)) throw mismatch(info, value);
  const items = value as readonly Value[];
  const members = info.members;
  if (items.length !== members.length) throw mismatch(info, value);
  if (members.length === 0) return new Uint8Array(1);
  const body = new Body();
  const offsets: number[] = [];
  members.forEach((m, i) => {
    body.pad(m.align);
    body.push(encodeValue(m, items[i] as Value));
    if (m.fixedSize === null && i < members.length - 1) offsets.push(body.size);
  });
  if (info.fixedSize !== null) {
    body.pad(info.align);
    return body.finish([]);
  }
  return body.finish(offsets.reverse());
}
