// Verify a .filez that was spilled to disk, streaming: header in normal form,
// inflate to exactly the declared size with no trailing bytes, canonical
// checksum — optionally writing the inflated payload to `payloadOut` on the way.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createInflateRaw } from 'node:zlib';
import { OtError, prefixError } from '../../shared/errors.js';
import { decodeArchiveHeader, encodeFileHeader, type Checksum, type FileHeader } from '../../shared/objects/index.js';

const MAX_HEADER = 1024 * 1024;

export async function verifyArchiveContentFile(csum: Checksum, file: string, url: string, payloadOut: string | null): Promise<FileHeader> {
  try {
    const fh = await open(file, 'r');
    let head: Buffer;
    let fileSize: number;
    try {
      fileSize = (await fh.stat()).size;
      const lenBuf = Buffer.alloc(8);
      await fh.read(lenBuf, 0, 8, 0);
      const h = lenBuf.readUInt32BE(0);
      if (h === 0 || h > MAX_HEADER || 8 + h > fileSize) throw new OtError('ERR_BAD_FORMAT', `File header size ${h} is invalid`);
      head = Buffer.alloc(8 + h);
      await fh.read(head, 0, 8 + h, 0);
    } finally {
      await fh.close();
    }
    const { header, size, payloadOffset } = decodeArchiveHeader(new Uint8Array(head));
    const hash = createHash('sha256');
    hash.update(encodeFileHeader(header));
    let produced = 0n;
    const inflate = createInflateRaw();
    const counter = new Transform({
      transform(chunk: Buffer, _e, cb) {
        produced += BigInt(chunk.length);
        if (produced > (size ?? 0n)) { cb(new OtError('ERR_SIZE_MISMATCH', `Payload is larger than the declared ${size} bytes`)); return; }
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    const sink = payloadOut === null
      ? new Writable({ write(_c, _e, cb) { cb(); } })
      : createWriteStream(payloadOut, { flags: 'wx', mode: 0o600 });
    if (payloadOffset < fileSize) await pipeline(createReadStream(file, { start: payloadOffset }), inflate, counter, sink);
    else sink.end();
    if (produced !== (size ?? 0n)) throw new OtError('ERR_SIZE_MISMATCH', `Unexpected EOF with ${(size ?? 0n) - produced}/${size} bytes remaining`);
    if (payloadOffset < fileSize && inflate.bytesWritten !== fileSize - payloadOffset) {
      throw new OtError('ERR_BAD_FORMAT', 'Trailing data after the compressed payload');
    }
    const actual = hash.digest('hex');
    if (actual !== csum) {
      throw new OtError('ERR_CHECKSUM_MISMATCH', `Corrupted file object; checksum expected='${csum}' actual='${actual}' (from ${url})`, {
        checksum: csum, objectType: 'file', expected: csum, found: actual, url, hint: 'the server copy is corrupt: run ostree fsck there',
      });
    }
    return header;
  } catch (err: unknown) {
    if (payloadOut !== null) await rm(payloadOut, { force: true });
    if (err instanceof OtError && err.code === 'ERR_CHECKSUM_MISMATCH') throw err;
    const e = prefixError(err, `Writing content object ${csum} (from ${url})`, 'ERR_BAD_FORMAT');
    throw new OtError(e.code, e.message, { checksum: csum, objectType: 'file', url, cause: err });
  }
}
