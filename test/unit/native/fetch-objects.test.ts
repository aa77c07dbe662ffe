// fetchObjects (native/fetch.c), the content fetcher of plain-http pulls,
// against a raw TCP server that answers each object its own way: good files
// and symlinks are verified and staged; a corrupt object, one with xattrs, an
// error status, a chunked, truncated, oversized-header or over-long answer is
// never staged and comes back for the caller to verify or fetch again (body,
// file, status or none); one bad answer does not spoil the rest of the batch.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { nativeSys } from '../../../shared/native/sys.js';
import { checksumOf, encodeArchiveHeader, encodeFileHeader, type FileHeader } from '../../../shared/objects/index.js';
import { readXattrSync } from '../../../shared/repo/xattr-io.js';
import { makeTmpDir } from '../../helpers/tmp.js';

const native = nativeSys();
if (native === null) throw new Error('the native helper is not built: run npm run install');

function filez(h: FileHeader, payload: Buffer): { csum: string; bytes: Buffer } {
  const csum = checksumOf(encodeFileHeader(h), payload);
  return { csum, bytes: Buffer.concat([encodeArchiveHeader(h, BigInt(payload.length)), payload.length > 0 ? deflateRawSync(payload) : Buffer.alloc(0)]) };
}

const file: FileHeader = { uid: 0, gid: 0, mode: 0o100755, symlinkTarget: '', xattrs: [] };
const ok = filez(file, Buffer.from('#!/bin/sh\necho hello\n'));
const link = filez({ ...file, mode: 0o120777, symlinkTarget: '../lib/libfoo.so.1' }, Buffer.alloc(0));
const withXattr = filez({ ...file, xattrs: [{ name: 'security.capability', value: Buffer.from([1, 2, 3]) }] }, Buffer.from('ping'));
const big = filez(file, (() => {
  let x = 2463534242;
  return Buffer.from(Array.from({ length: 150_000 }, () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x & 255; }));
})());
const corrupt = (() => { const o = filez(file, Buffer.from('original content\n')); const b = Buffer.from(o.bytes); b[b.length - 3] ^= 0xff; return { csum: o.csum, bytes: b }; })();
const other = ['chunked', 'truncated', 'hugehead', 'missing', 'trailing'].map((k) => ({ k, ...filez(file, Buffer.from(`object ${k}\n`)) }));

/** A server answering GET objects/xx/rest.filez by checksum, each in its own way; counts connections. */
async function serve(): Promise<{ port: number; connections: () => number; close: () => void }> {
  const by = new Map<string, (s: Socket) => void>();
  const send = (s: Socket, bytes: Buffer) => s.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${bytes.length}\r\n\r\n`), bytes]));
  for (const o of [ok, link, withXattr, big, corrupt]) by.set(o.csum, (s) => send(s, o.bytes));
  const [chunked, truncated, hugehead, missing, trailing] = other as [typeof other[number], typeof other[number], typeof other[number], typeof other[number], typeof other[number]];
  by.set(chunked.csum, (s) => s.write(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${chunked.bytes.length.toString(16)}\r\n${chunked.bytes.toString('latin1')}\r\n0\r\n\r\n`, 'latin1'));
  by.set(truncated.csum, (s) => { s.end(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${truncated.bytes.length + 10}\r\n\r\n`), truncated.bytes])); });
  by.set(hugehead.csum, (s) => s.write(`HTTP/1.1 200 OK\r\nX-Junk: ${'a'.repeat(20000)}\r\nContent-Length: 0\r\n\r\n`));
  by.set(missing.csum, (s) => s.write('HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found'));
  by.set(trailing.csum, (s) => send(s, Buffer.concat([trailing.bytes, Buffer.from('EXTRA')])));
  let conns = 0;
  const srv = createServer((s) => {
    conns++;
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
        const req = buf.slice(0, end);
        buf = buf.slice(end + 4);
        const m = /^GET \/repo\/objects\/([0-9a-f]{2})\/([0-9a-f]{62})\.filez HTTP\/1\.1\r\n/.exec(req);
        const answer = m ? by.get(`${m[1]}${m[2]}`) : undefined;
        if (answer) answer(s); else s.write('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
      }
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { port: (srv.address() as AddressInfo).port, connections: () => conns, close: () => srv.close() };
}

describe('fetchObjects', () => {
  it.each([false, true])('archive=%s: stages what verifies, hands back everything else, never stages a bad object', async (archive) => {
    const srv = await serve();
    const staging = join(makeTmpDir(), 'staging');
    mkdirSync(staging);
    const order = [ok, other[0], link, corrupt, other[1], withXattr, other[2], big, other[3], other[4], ok] as { csum: string; bytes: Buffer }[];
    const res = await native.fetchObjects({
      host: '127.0.0.1', port: srv.port, hostHeader: `127.0.0.1:${srv.port}`, basePath: '/repo/', extraHeaders: 'X-Test: 1\r\n',
      checksums: order.map((o) => o.csum), stagingDir: staging, archive, maxBody: 100_000, timeoutMs: 5000,
    });
    srv.close();
    const ext = archive ? 'filez' : 'file';
    const staged = (c: string) => join(staging, c.slice(0, 2), `${c.slice(2)}.${ext}`);
    // 'trailing' has junk after its deflate stream inside its Content-Length: it does not verify.
    // The last is `ok` again: already staged by this batch, so not created twice.
    expect(res.map((r) => r.kind), JSON.stringify(res.map((r) => r.kind))).toEqual(['staged', 'none', 'staged', 'body', 'none', 'body', 'none', 'file', 'status', 'body', 'body']);
    // The good ones, as the TypeScript path stores them.
    if (archive) expect(readFileSync(staged(ok.csum)).equals(ok.bytes)).toBe(true);
    else {
      expect(readFileSync(staged(ok.csum), 'utf8')).toBe('#!/bin/sh\necho hello\n');
      expect(readFileSync(staged(link.csum), 'utf8')).toBe('../lib/libfoo.so.1\0');
      expect(readXattrSync(staged(link.csum), 'user.ostreemeta')?.length).toBe(12);
    }
    // Handed back, unverified and unstaged: the caller checks them like its own fetches.
    expect(Buffer.from(res[3]?.body ?? []).equals(corrupt.bytes)).toBe(true);
    expect(Buffer.from(res[5]?.body ?? []).equals(withXattr.bytes)).toBe(true);
    expect(readFileSync(res[7]?.file ?? '').equals(big.bytes)).toBe(true);
    expect(res[8]).toMatchObject({ kind: 'status', status: 404 });
    for (const o of [corrupt, withXattr, big, ...other]) expect(existsSync(staged(o.csum))).toBe(false);
    expect(Buffer.from(res[9]?.body ?? []).equals(Buffer.concat([(other[4] as { bytes: Buffer }).bytes, Buffer.from('EXTRA')]))).toBe(true);
    // Chunked, truncated, the huge header and the trailing bytes each cost a connection.
    expect(srv.connections()).toBeLessThanOrEqual(6);
  });
});
