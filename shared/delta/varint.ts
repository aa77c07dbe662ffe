// Unsigned LEB128 varints, as static-delta opcodes use them (static-deltas.md §5). Pure.
import { OtError } from '../errors.js';

/** Read a varint at `pos`; returns [value, next position]. Throws ERR_BAD_FORMAT (truncated or > 2^53). */
export function readVarint(bytes: Uint8Array, pos: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 8; i++) {
    const b = bytes[pos + i];
    if (b === undefined) throw new OtError('ERR_BAD_FORMAT', `Truncated varint at offset ${pos}`, { offset: pos });
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return [value, pos + i + 1];
    scale *= 128;
  }
  throw new OtError('ERR_BAD_FORMAT', `Varint too long at offset ${pos}`, { offset: pos });
}

/** Append the varint encoding of `value` (a non-negative safe integer). */
export function writeVarint(out: number[], value: number): void {
  let v = value;
  do {
    let b = v % 128;
    v = Math.floor(v / 128);
    if (v > 0) b |= 0x80;
    out.push(b);
  } while (v > 0);
}
