// bsdiff for delta generation through node-bsdiff, whose native diff emits
// exactly the raw stream ostree embeds (no header, no bzip2). The addon is not
// context-aware, so it cannot run in worker threads: it runs on the main
// thread while xz compresses finished parts in other processes.
import { deflateRawSync } from 'node:zlib';
import { lazyRequire } from '../lazy-require.js';

/**
 * A bsdiff patch from `old` to `neu`, or null when it would not pay (judged by
 * fast deflate sizes, a cheap stand-in for the final xz size).
 */
export async function bsdiffIfSmaller(old: Uint8Array, neu: Uint8Array): Promise<Uint8Array | null> {
  const { native } = lazyRequire<typeof import('node-bsdiff')>('node-bsdiff');
  const chunks: Buffer[] = [];
  native.diff(Buffer.from(old.buffer, old.byteOffset, old.byteLength), Buffer.from(neu.buffer, neu.byteOffset, neu.byteLength), (c) => chunks.push(Buffer.from(c)));
  const patch = Buffer.concat(chunks);
  const cost = (b: Uint8Array) => deflateRawSync(b, { level: 1 }).length;
  return cost(patch) < cost(neu) * 0.8 ? new Uint8Array(patch) : null;
}
