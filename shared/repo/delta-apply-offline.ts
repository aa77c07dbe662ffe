// ostree static-delta apply-offline: apply a self-contained delta file
// (superblock with inline parts) to a repository that holds FROM and the
// fallback objects. Every object is verified as it is written; no ref moves.
import { readFile } from 'node:fs/promises';
import { OtError } from '../errors.js';
import { decodePartPayload, decodeSuperblock, decompressPart, executePart, superblockCommitBytes, type DeltaObject, type DeltaSink } from '../delta/index.js';
import { checksumOf, deltaDir, type Checksum, type FileHeader } from '../objects/index.js';
import type { Repo } from './repo.js';
import { Transaction } from './transaction.js';
import type { Variant } from '../gvariant/index.js';
import { encode } from '../gvariant/index.js';

/** A delta sink that writes into a transaction, checksum-verifying every object. */
export function transactionSink(tx: Transaction): DeltaSink {
  return {
    has: (o: DeltaObject) => tx.hasObjectSync(o.checksum, o.type),
    readContent: (c: Checksum) => tx.readContentPayload(c),
    writeMetadata: async (o: DeltaObject, bytes: Uint8Array) => { await tx.writeMetadata(o.type, bytes, o.checksum); },
    writeContent: async (o: DeltaObject, h: FileHeader, p: Uint8Array) => { await tx.writeContent(h, p, o.checksum); },
  };
}

export async function applyOfflineDelta(repo: Repo, path: string): Promise<{ commit: Checksum; objects: number }> {
  const sb = decodeSuperblock(new Uint8Array(await readFile(path)));
  const commitBytes = superblockCommitBytes(sb);
  if (checksumOf(commitBytes) !== sb.to) throw new OtError('ERR_CHECKSUM_MISMATCH', `Delta file ${path} embeds a commit that is not ${sb.to}`, { path });
  if (sb.from !== null && !repo.hasObjectSync(sb.from, 'commit')) {
    throw new OtError('ERR_OBJECT_NOT_FOUND', `Delta ${path} needs commit ${sb.from}, which this repository does not have`, { path, hint: 'pull or apply the FROM commit first' });
  }
  const missing = sb.fallbacks.filter((f) => !repo.hasObjectSync(f.checksum, f.type));
  if (missing.length > 0) throw new OtError('ERR_OBJECT_NOT_FOUND', `Delta ${path} needs ${missing.length} fallback object(s) not in this repository, e.g. ${missing[0]?.checksum}`, { path });
  const roots = [deltaDir(sb.from, sb.to), deltaDir(sb.from, sb.to, 'deltas-zstd')];
  const tx = await Transaction.begin(repo);
  let objects = 0;
  try {
    const meta = roots.map((r) => sb.metadata.find(([k]) => k === `${r}/commitmeta`)?.[1]).find((v): v is Variant => v !== undefined);
    if (meta?.type === 'a{sv}') await tx.writeMetadata('commitmeta', encode('a{sv}', meta.value), sb.to);
    await tx.writeMetadata('commit', commitBytes, sb.to);
    const sink = transactionSink(tx);
    for (const [i, part] of sb.parts.entries()) {
      const inline = roots.map((r) => sb.metadata.find(([k]) => k === `${r}/${i}`)?.[1]).find((v): v is Variant => v !== undefined);
      if (inline === undefined) throw new OtError('ERR_UNSUPPORTED', `Delta file ${path} is not self-contained (part ${i} is not inline)`, { path, hint: 'generate it with --filename (or --inline)' });
      const [c, data] = inline.value as [number, Uint8Array];
      const file = new Uint8Array(data.length + 1);
      file[0] = c;
      file.set(data, 1);
      objects += await executePart(decodePartPayload(await decompressPart(file, 256 * 1024 * 1024)), part.objects, sink, { maxObjectSize: 256 * 1024 * 1024 });
    }
    await tx.commit();
  } catch (err: unknown) {
    await tx.abort();
    throw err;
  }
  return { commit: sb.to, objects };
}
