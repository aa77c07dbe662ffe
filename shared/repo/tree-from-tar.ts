// Layer a tar archive into a MutableTree (ostree commit --tree=tar=FILE).
// Entry paths go through splitRelativePath: '..' anywhere is ERR_UNSAFE_PATH.
import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Header as TarHeader } from 'tar-stream';
import { OtError } from '../errors.js';
import { lazyRequire } from '../lazy-require.js';
import { S_IFDIR, S_IFLNK, S_IFREG, encodeDirmeta, encodeFileHeader, type Checksum, type FileHeader, type Xattr } from '../objects/index.js';
import { tmpName } from './atomic-fs.js';
import { writeLargeContent } from './large-content.js';
import { MutableTree, splitRelativePath } from './mtree.js';
import type { Transaction } from './transaction.js';
import { recordedMeta, type CommitModifier } from './tree-from-dir.js';

const IN_MEMORY_LIMIT = 16 * 1024 * 1024;

function paxXattrs(h: TarHeader): Xattr[] {
  const out: Xattr[] = [];
  for (const [k, v] of Object.entries(h.pax ?? {})) {
    if (k.startsWith('SCHILY.xattr.')) out.push({ name: k.slice('SCHILY.xattr.'.length), value: new Uint8Array(Buffer.from(String(v), 'latin1')) });
  }
  return out;
}

/** Import the tar stream into `tree`. Throws ERR_UNSAFE_PATH, ERR_UNSUPPORTED, ERR_BAD_FORMAT. */
export async function importTar(tx: Transaction, tree: MutableTree, input: Readable, mod: CommitModifier): Promise<void> {
  const byPath = new Map<string, Checksum>();
  const { extract } = lazyRequire<typeof import('tar-stream')>('tar-stream'); // loaded only for tar commits (start-up time)
  const ex = extract();
  const done = new Promise<void>((resolve, reject) => { ex.on('finish', resolve); ex.on('error', reject); input.on('error', reject); });
  input.pipe(ex);
  for await (const entry of ex) {
    const h = entry.header;
    const parts = splitRelativePath(h.name);
    const meta = recordedMeta({ uid: h.uid ?? 0, gid: h.gid ?? 0, mode: (h.mode ?? 0o644) & 0o7777 }, mod);
    const xattrs = mod.noXattrs ? [] : paxXattrs(h);
    if (h.type === 'directory') {
      const dir = tree.walkCreate(parts);
      dir.metaChecksum = await tx.writeMetadata('dirmeta', encodeDirmeta({ ...meta, mode: S_IFDIR | meta.mode, xattrs }));
      entry.resume();
      continue;
    }
    const name = parts.pop();
    if (name === undefined) { entry.resume(); continue; }
    const parent = tree.walkCreate(parts);
    let csum: Checksum;
    if (h.type === 'symlink') {
      csum = await tx.writeContent({ ...meta, mode: S_IFLNK | 0o777, xattrs: [], symlinkTarget: h.linkname ?? '' }, new Uint8Array(0));
      entry.resume();
    } else if (h.type === 'link') {
      const target = byPath.get(splitRelativePath(h.linkname ?? '').join('/'));
      entry.resume();
      if (target === undefined) throw new OtError('ERR_BAD_FORMAT', `Tar hardlink ${h.name} points to unknown entry ${h.linkname}`, { path: h.name });
      csum = target;
    } else if (h.type === 'file' || h.type === 'contiguous-file') {
      const header: FileHeader = { ...meta, mode: S_IFREG | meta.mode, xattrs, symlinkTarget: '' };
      csum = await readEntry(tx, header, entry as unknown as Readable, h.size ?? 0);
    } else {
      entry.resume();
      throw new OtError('ERR_UNSUPPORTED', `Unsupported tar entry type '${h.type}' for ${h.name}`, { path: h.name });
    }
    parent.setFile(name, csum);
    byPath.set([...parts, name].join('/'), csum);
  }
  await done;
}

async function readEntry(tx: Transaction, header: FileHeader, entry: Readable, size: number): Promise<Checksum> {
  if (size <= IN_MEMORY_LIMIT) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    return tx.writeContent(header, new Uint8Array(Buffer.concat(chunks)));
  }
  const tmp = join(tx.stagingDir, tmpName('tar'));
  const h = createHash('sha256');
  h.update(encodeFileHeader(header));
  const fh = await open(tmp, 'wx', 0o600);
  try {
    for await (const c of entry) { h.update(c as Buffer); await fh.write(c as Buffer); }
  } finally { await fh.close(); }
  try {
    return await writeLargeContent(tx, header, tmp, h.digest('hex') as Checksum);
  } finally { await rm(tmp, { force: true }); }
}

/** Open a tar file for importTar. */
export function openTar(path: string): Readable {
  return createReadStream(path);
}
