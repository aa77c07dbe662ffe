// The delta part interpreter (static-deltas.md §5): walks the opcode stream
// over the part payload, building each object listed in the part header in
// order, and hands finished objects to the caller, which verifies and stores
// them. Every offset and length is range-checked; object sizes are capped.
import { OtError } from '../errors.js';
import { S_IFLNK, S_IFMT, checksumFromBytes, type Checksum, type FileHeader } from '../objects/index.js';
import { bspatchAsync } from './bspatch.js';
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

/** Content objects above this size are built one at a time (bounds memory: source + patch + result). */
const BIG_OBJECT = 4 * 1024 * 1024;

/** Where the bytes of an object being built come from; resolved when the object is closed. */
type Piece =
  | { kind: 'bytes'; data: Uint8Array }
  | { kind: 'source'; source: Promise<Uint8Array>; offset: number; size: number }
  | { kind: 'patch'; source: Promise<Uint8Array>; patch: Uint8Array };

/** Run one part. Throws ERR_BAD_FORMAT on any malformed op, operand or object. */
export async function executePart(part: PartPayload, objects: readonly DeltaObject[], sink: DeltaSink, opts: ExecuteOptions): Promise<number> {
  const { ops, payload } = part;
  let pc = 0;
  let cursor = 0;
  let written = 0;
  let open: { obj: DeltaObject; header: FileHeader; size: number; pieces: Piece[]; have: number; skip: boolean } | null = null;
  let source: Promise<Uint8Array> | null = null;
  // Objects are built and written concurrently: file creation and reading a
  // bsdiff source are latency-bound. A read source waits only for the write
  // of that same object when it is still in flight (not for every write).
  const inFlight = new Set<Promise<void>>();
  const writing = new Map<Checksum, Promise<void>>();
  let firstError: unknown = null;
  const submit = async (write: () => Promise<void>, csum?: Checksum) => {
    if (firstError !== null) throw firstError;
    while (inFlight.size >= WRITE_CONCURRENCY) await Promise.race(inFlight);
    const p: Promise<void> = write().catch((err: unknown) => { firstError ??= err; }).finally(() => {
      inFlight.delete(p);
      if (csum !== undefined && writing.get(csum) === p) writing.delete(csum);
    });
    inFlight.add(p);
    if (csum !== undefined) writing.set(csum, p);
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
          if (!sink.has(obj)) await submit(() => sink.writeContent(obj, header, isLink ? new Uint8Array(0) : data), obj.checksum);
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
        open = { obj, header: { ...m, symlinkTarget: '' }, size, pieces: [], have: 0, skip: sink.has(obj) };
        break;
      }
      case OP.w: {
        const size = next();
        const offset = next();
        if (!open) throw new OtError('ERR_BAD_FORMAT', "'w' with no open object", { offset: pc });
        open.have += size;
        if (open.have > open.size) throw new OtError('ERR_BAD_FORMAT', `Writes exceed the declared size ${open.size}`, { offset: pc });
        if (source) { if (!open.skip) open.pieces.push({ kind: 'source', source, offset, size }); }
        else {
          const data = slice(payload, offset, size, 'write');
          if (!open.skip) open.pieces.push({ kind: 'bytes', data });
        }
        break;
      }
      case OP.r: {
        const offset = next();
        const csum = checksumFromBytes(slice(payload, offset, 32, 'read source checksum'));
        if (open?.skip) { source = Promise.resolve(new Uint8Array(0)); break; }
        // Read now, concurrently with other objects; after that object's own write if it is still landing.
        source = (writing.get(csum) ?? Promise.resolve()).then(() => sink.readContent(csum));
        source.catch(() => undefined); // observed when the object is closed
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
          open.pieces = [{ kind: 'patch', source, patch }];
        }
        open.have = open.size;
        break;
      }
      case OP.c: {
        if (!open) throw new OtError('ERR_BAD_FORMAT', "'c' with no open object", { offset: pc });
        if (!open.skip) {
          if (open.have !== open.size) throw new OtError('ERR_BAD_FORMAT', `Object ${open.obj.checksum} got ${open.have} of ${open.size} bytes`, { offset: pc });
          const o = open;
          if (o.size > BIG_OBJECT) await flush();
          await submit(async () => sink.writeContent(o.obj, o.header, await assemble(o.pieces, o.size)), o.obj.checksum);
          if (o.size > BIG_OBJECT) await flush();
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

/** The bytes of a closed object from its pieces; every source slice is range-checked. */
async function assemble(pieces: Piece[], size: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (const p of pieces) {
    if (p.kind === 'bytes') parts.push(p.data);
    else if (p.kind === 'source') parts.push(slice(await p.source, p.offset, p.size, 'read source'));
    else parts.push(await bspatchAsync(await p.source, p.patch, size));
  }
  const data = parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)));
  if (data.length !== size) throw new OtError('ERR_BAD_FORMAT', `Delta object assembled to ${data.length} bytes, declared ${size}`);
  return data;
}
