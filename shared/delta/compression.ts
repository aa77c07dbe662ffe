// Delta part compression: 0 (none) and 'x' (xz, through lzma-native — the
// only Node 20 library measured to really compress; ../shared/research
// /dependencies.md §3), plus our 'z' (zstd, zstd-napi: zstd-codec aborts on
// inputs over ~4 MB, bench/zstd.ts). Decompression is capped so a part cannot balloon.
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { OtError } from '../errors.js';
import { COMPRESSION_BYTE, splitPartFile, type PartCompression } from './part.js';

/** Decompress a part file's payload, refusing more than `maxSize` bytes of output. */
export async function decompressPart(file: Uint8Array, maxSize: number): Promise<Uint8Array> {
  const { compression, data } = splitPartFile(file);
  if (compression === 'none') return data;
  const chunks: Buffer[] = [];
  let size = 0;
  // Native codecs load on first use: most commands never touch a delta (start-up time).
  const decoder = compression === 'zstd'
    ? new (await import('zstd-napi')).DecompressStream({ windowLogMax: 27 })
    : (await import('lzma-native')).default.createDecompressor({ memlimit: 256 * 1024 * 1024 });
  try {
    await pipeline(Readable.from([Buffer.from(data.buffer, data.byteOffset, data.byteLength)]), decoder, new Writable({
      write(chunk: Buffer, _e, cb) {
        size += chunk.length;
        if (size > maxSize) { cb(new OtError('ERR_TOO_LARGE', `Delta part inflates beyond ${maxSize} bytes`)); return; }
        chunks.push(chunk);
        cb();
      },
    }));
  } catch (err: unknown) {
    if (err instanceof OtError) throw err;
    throw new OtError('ERR_BAD_FORMAT', `Corrupt ${compression} delta part: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const out = Buffer.concat(chunks, size);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** Build a part file: compression byte + (compressed) payload. */
export async function compressPart(payload: Uint8Array, compression: PartCompression): Promise<Uint8Array> {
  let body: Uint8Array;
  if (compression === 'none') body = payload;
  else if (compression === 'xz') body = new Uint8Array(await (await import('lzma-native')).default.compress(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), { preset: 6 }));
  // zstd level 19: publishing is done once, so trade generation time for size (within ~10% of xz).
  else body = new Uint8Array((await import('zstd-napi')).compress(payload, { compressionLevel: 19 }));
  const out = new Uint8Array(body.length + 1);
  out[0] = COMPRESSION_BYTE[compression];
  out.set(body, 1);
  return out;
}
