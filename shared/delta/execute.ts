// The delta part interpreter (static-deltas.md §5): walks the opcode stream
// over the part payload, building each object listed in the part header in
// order, and hands finished objects to the caller, which verifies and stores
// them. Every offset and length is range-checked; object sizes are capped.
import { OtError } from '../errors.js';
import { S_IFLNK, S_IFMT, checksumFromBytes, type Checksum, type FileHeader } from '../objects/index.js';
import { bspatch } from './bspatch.js';
import type { PartPayload } from './part.js';
import type { DeltaObject } from './superblock.js';
import { readVarint } from './varint.js';

export interface DeltaSink {
  /** Whether the object is already stored (then 'o' objects are parsed but not built). */
  has(obj: DeltaObject): boolean;
  /** The payload bytes of an existing local content object (read source for 'w'/'B'). */
  readContent(csum: Checksum): Promise<Uint8Array>;
  writeMetadata(obj: DeltaObject, bytes: Uint8Array): Promise<void>;
  writeContent(obj: DeltaObject, header: FileHeader, payload: Uint8Array): Promise<void>;
}

export interface ExecuteOptions {
  /** Largest object the interpreter will build in memory. */
  maxObjectSize: number;
}

/** Object writes in flight at once. */
const WRITE_CONCURRENCY = 16;

const OP = { S: 0x53, o: 0x6f, w: 0x77, r: 0x72, R: 0x52, c: 0x63, B: 0x42 } as const;

function slice(payload: Uint8Array, offset: number, length: number, what: string): Uint8Array {
  if (offset < 0 || length < 0 || offset + length > payload.length) {
    throw new OtError('ERR_BAD_FORMAT', `Invalid offset/length ${offset}/${length} for ${what} (payload is ${payload.length} bytes)`, { offset });
  }
  return payload.subarray(offset, offset + length);
}

/** Run one part. Throws ERR_BAD_FORMAT on any malformed op, operand or object. */
export async function executePart(part: PartPayload, objects: readonly DeltaObject[], sink: DeltaSink, opts: ExecuteOptions): Promise<number> {
  const { ops, payload } = part;
  let pc = 0;
  let cursor = 0;
  let written = 0;
  let open: { obj: DeltaObject; header: FileHeader; size: number; chunks: Uint8Array[]; have: number; skip: boolean } | null = null;
  let source: Uint8Array | null = null;
  // Objects are written concurrently (file creation is latency-bound); a read
  // source is only read once every earlier write has landed.
  const inFlight = new Set<Promise<void>>();
  let firstError: unknown = null;
  const submit = async (write: () => Promise<void>) => {
    if (firstError !== null) throw firstError;
    while (inFlight.size >= WRITE_CONCURRENCY) await Promise.race(inFlight);
    const p: Promise<void> = write().catch((err: unknown) => { firstError ??= err; }).finally(() => inFlight.delete(p));
    inFlight.add(p);
  };
  const flush = async () => {
    await Promise.all(inFlight);
    if (firstError !== null) throw firstError;
  };
  const next = () => { const [v, p] = readVarint(ops, pc); pc = p; return v; };
  const current = () => {
    const o = objects[cursor];
    if (o === undefined) throw new OtError('ERR_BAD_FORMAT', `Delta op at ${pc} refers to object ${cursor}, but the part lists ${objects.length}`, { offset: pc });
    return o;
  };
  const meta = (modeIdx: number, xattrIdx: number) => {
    const m = part.modes[modeIdx];
    const x = part.xattrs[xattrIdx];
    if (m === undefined || x === undefined) throw new OtError('ERR_BAD_FORMAT', `Invalid mode/xattr index ${modeIdx}/${xattrIdx}`, { offset: pc });
    return { ...m, xattrs: x };
  };
  const checkSize = (size: number) => {
    if (size > opts.maxObjectSize) throw new OtError('ERR_TOO_LARGE', `Delta object of ${size} bytes exceeds ${opts.maxObjectSize}`, { offset: pc });
  };
  while (pc < ops.length) {
    const op = ops[pc++];
    switch (op) {
      case OP.S: {
        const obj = current();
        if (obj.type !== 'file') {
          const length = next();
          const offset = next();
          const bytes = slice(payload, offset, length, `${obj.type} ${obj.checksum}`);
          if (!sink.has(obj)) await submit(() => sink.writeMetadata(obj, bytes));
        } else {
          const m = meta(next(), next());
          const size = next();
          const offset = next();
          const data = slice(payload, offset, size, `file ${obj.checksum}`);
          const isLink = (m.mode & S_IFMT) === S_IFLNK;
          const header: FileHeader = { ...m, symlinkTarget: isLink ? Buffer.from(data).toString('utf8') : '' };
          if (!sink.has(obj)) await submit(() => sink.writeContent(obj, header, isLink ? new Uint8Array(0) : data));
        }
        cursor++;
        written++;
        break;
      }
      case OP.o: {
        const obj = current();
        if (obj.type !== 'file') throw new OtError('ERR_BAD_FORMAT', `'o' on ${obj.type} object ${obj.checksum}`, { offset: pc });
        const m = meta(next(), next());
        const size = next();
        checkSize(size);
        open = { obj, header: { ...m, symlinkTarget: '' }, size, chunks: [], have: 0, skip: sink.has(obj) };
        break;
      }
      case OP.w: {
        const size = next();
        const offset = next();
        if (!open) throw new OtError('ERR_BAD_FORMAT', "'w' with no open object", { offset: pc });
        const data = source ? slice(source, offset, size, 'read source') : slice(payload, offset, size, 'write');
        open.have += size;
        if (open.have > open.size) throw new OtError('ERR_BAD_FORMAT', `Writes exceed the declared size ${open.size}`, { offset: pc });
        if (!open.skip) open.chunks.push(data);
        break;
      }
      case OP.r: {
        const offset = next();
        const csum = checksumFromBytes(slice(payload, offset, 32, 'read source checksum'));
        if (!open?.skip) await flush();
        source = open?.skip ? new Uint8Array(0) : await sink.readContent(csum);
        break;
      }
      case OP.R:
        source = null;
        break;
      case OP.B: {
        const offset = next();
        const length = next();
        if (!open) throw new OtError('ERR_BAD_FORMAT', "'B' with no open object", { offset: pc });
        const patch = slice(payload, offset, length, 'bsdiff patch');
        if (!open.skip) {
          if (source === null) throw new OtError('ERR_BAD_FORMAT', "'B' with no read source", { offset: pc });
          open.chunks = [bspatch(source, patch, open.size)];
        }
        open.have = open.size;
        break;
      }
      case OP.c: {
        if (!open) throw new OtError('ERR_BAD_FORMAT', "'c' with no open object", { offset: pc });
        if (!open.skip) {
          if (open.have !== open.size) throw new OtError('ERR_BAD_FORMAT', `Object ${open.obj.checksum} got ${open.have} of ${open.size} bytes`, { offset: pc });
          const o = open;
          const data = Buffer.concat(o.chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)));
          await submit(() => sink.writeContent(o.obj, o.header, data));
        }
        open = null;
        source = null;
        cursor++;
        written++;
        break;
      }
      default:
        throw new OtError('ERR_BAD_FORMAT', `Unknown delta opcode ${op} at offset ${pc - 1}`, { offset: pc - 1 });
    }
  }
  await flush();
  if (open) throw new OtError('ERR_BAD_FORMAT', 'Delta part ends with an open object');
  if (cursor !== objects.length) throw new OtError('ERR_BAD_FORMAT', `Delta part wrote ${cursor} of ${objects.length} objects`);
  return written;
}
