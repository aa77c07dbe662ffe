// bsdiff for delta generation: the raw stream ostree embeds (no header, no
// bzip2). The native helper (native/bsdiff.c) diffs on the thread pool, so
// several modified files are diffed at once while the main thread assembles
// parts; its output is byte-identical to node-bsdiff's (the fallback, used
// without the native helper: not context-aware, it runs on the main thread).
import { deflateRaw } from 'node:zlib';
import { promisify } from 'node:util';
import { lazyRequire } from '../lazy-require.js';
import { nativeSys } from '../native/sys.js';
import { Limiter } from '../repo/limiter.js';

const deflateRawAsync = promisify(deflateRaw);

/** Diffs at once: each holds 4-8 bytes per byte of its old file. */
const diffing = new Limiter(2);

/** The raw bsdiff stream from `old` to `neu`. */
export async function bsdiff(old: Uint8Array, neu: Uint8Array): Promise<Uint8Array> {
  const native = nativeSys();
  if (native) return diffing.run(() => native.bsdiff(old, neu));
  const { native: nb } = lazyRequire<typeof import('node-bsdiff')>('node-bsdiff');
  const chunks: Buffer[] = [];
  nb.diff(Buffer.from(old.buffer, old.byteOffset, old.byteLength), Buffer.from(neu.buffer, neu.byteOffset, neu.byteLength), (c) => chunks.push(Buffer.from(c)));
  return new Uint8Array(Buffer.concat(chunks));
}

/**
 * A bsdiff patch from `old` to `neu`, or null when it would not pay (judged by
 * fast deflate sizes, a cheap stand-in for the final xz size).
 */
export async function bsdiffIfSmaller(old: Uint8Array, neu: Uint8Array): Promise<Uint8Array | null> {
  const patch = await bsdiff(old, neu);
  const cost = async (b: Uint8Array) => (await deflateRawAsync(b, { level: 1 })).length;
  const [p, n] = await Promise.all([cost(patch), cost(neu)]);
  return p < n * 0.8 ? patch : null;
}
