// Content objects too large for memory: streamed from a source file into the
// staging area (deflated for archive repos), with bounded memory.
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, chmod, rename } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createDeflateRaw } from 'node:zlib';
import { encodeArchiveHeader, encodeDirmeta, type Checksum, type FileHeader } from '../objects/index.js';
import type { Transaction } from './transaction.js';
import { OSTREEMETA_XATTR, writeXattr } from './xattr-io.js';
import { stat, chown } from 'node:fs/promises';

/**
 * Store the regular file at `src` as content object `csum` (already computed
 * over the canonical stream by the caller). With `move` (bare modes only) the
 * file is renamed into staging instead of copied. Returns `csum`.
 */
export async function writeLargeContent(tx: Transaction, header: FileHeader, src: string, csum: Checksum, opts: { move?: boolean } = {}): Promise<Checksum> {
  const mode = tx.repo.mode;
  await tx.stage(csum, 'file', false, async (path) => {
    if (mode === 'archive' && opts.move) throw new Error('writeLargeContent: move needs a payload, not a .filez; use tx.stage');
    if (mode === 'archive') {
      const size = (await stat(src)).size;
      const out = createWriteStream(path, { flags: 'wx', mode: 0o644 });
      out.write(encodeArchiveHeader(header, BigInt(size)));
      await pipeline(createReadStream(src, { highWaterMark: 1 << 20 }), createDeflateRaw({ level: 6 }), out);
      return;
    }
    if (opts.move) await rename(src, path);
    else await copyFile(src, path);
    if (mode === 'bare-user') {
      await chmod(path, (header.mode & 0o775) | 0o400);
      await writeXattr(path, OSTREEMETA_XATTR, encodeDirmeta(header));
    } else if (mode === 'bare-user-only') {
      await chmod(path, header.mode & 0o775);
    } else {
      for (const x of header.xattrs) await writeXattr(path, x.name, x.value);
      await chown(path, header.uid, header.gid);
      await chmod(path, header.mode & 0o7777);
    }
  });
  return csum;
}
