// ots-server's read path against a real listening process: headers, Range,
// HEAD, ETag/304, 404s and path traversal attempts sent as raw request paths.
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ots } from '../../helpers/run.js';
import { makeSampleTree } from '../../helpers/sample-tree.js';
import { startOtsServer, type Running } from '../../helpers/servers.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll } from 'vitest';

interface Raw { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }

function rawGet(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

let dir: string;
let repo: string;
let objectPath: string;
let srv: Running;

describe('ots-server read path', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ots-srv-'));
    repo = join(dir, 'repo');
    makeSampleTree(join(dir, 'src'));
    await ots(`--repo=${repo}`, 'init', '--mode=archive');
    await ots(`--repo=${repo}`, 'commit', '-b', 'main', join(dir, 'src'));
    await ots(`--repo=${repo}`, 'summary', '-u');
    const ls = await ots(`--repo=${repo}`, 'ls', '-C', 'main', '/usr/lib/big.bin');
    const csum = ls.split(/\s+/)[4] as string;
    objectPath = `/objects/${csum.slice(0, 2)}/${csum.slice(2)}.filez`;
    writeFileSync(join(dir, 'secret'), 'outside the repo');
    mkdirSync(join(repo, 'refs/heads/evil'), { recursive: true });
    symlinkSync(join(dir, 'secret'), join(repo, 'refs/heads/evil/link'));
    symlinkSync(dir, join(repo, 'refs/heads/outdir'));
    writeFileSync(join(repo, 'tmp', 'private'), 'x');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves config, summary, refs and objects with the right cache headers', async () => {
    srv = await startOtsServer(repo);
    const config = await rawGet(srv.port, '/config');
    expect(config.status).toBe(200);
    expect(config.body.toString()).toContain('mode=archive-z2');
    expect(config.headers['cache-control']).toBe('no-cache');
    expect(config.headers['content-encoding']).toBeUndefined();
    const obj = await rawGet(srv.port, objectPath, { 'accept-encoding': 'gzip' });
    expect(obj.status).toBe(200);
    expect(obj.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(obj.headers['content-encoding']).toBeUndefined();
    const head = await rawGet(srv.port, objectPath, {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(Number(head.headers['content-length'])).toBe(obj.body.length);
    const ref = await rawGet(srv.port, '/refs/heads/main');
    expect(ref.body.toString()).toMatch(/^[0-9a-f]{64}\n$/);
    expect((await rawGet(srv.port, '/healthz')).status).toBe(200);
    const metrics = await rawGet(srv.port, '/metrics');
    expect(metrics.body.toString()).toContain('ots_http_requests_total{class="object",status="200"}');
  });

  it.each([
    ['small (read synchronously)', 100_000],
    ['medium (one buffered read)', 3_000_000],
    ['large (streamed)', 20_000_000],
  ])('serves %s delta files byte for byte, HEAD with the same length', async (_label, size) => {
    srv = await startOtsServer(repo);
    const rel = `deltas/ab/size-${size}/0`;
    mkdirSync(join(repo, 'deltas/ab', `size-${size}`), { recursive: true });
    let x = size;
    const body = Buffer.from(Array.from({ length: size }, () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24));
    writeFileSync(join(repo, rel), body);
    const r = await rawGet(srv.port, `/${rel}`);
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe(String(size));
    expect(r.headers['cache-control']).toMatch(/immutable/);
    expect(r.body.equals(body)).toBe(true);
    const h = await rawGet(srv.port, `/${rel}`, {}, 'HEAD');
    expect(h.headers['content-length']).toBe(String(size));
    expect(h.body.length).toBe(0);
  });

  it('caches only content-addressed objects: a rewritten summary, delta or commitmeta is served fresh', async () => {
    srv = await startOtsServer(repo);
    const o1 = await rawGet(srv.port, objectPath);
    const o2 = await rawGet(srv.port, objectPath);
    expect(o2.body.equals(o1.body)).toBe(true);
    const summary = readFileSync(join(repo, 'summary'));
    for (const rel of ['summary', 'deltas/cd/regenerated/superblock', `objects/ab/${'c'.repeat(62)}.commitmeta`]) {
      mkdirSync(join(repo, rel, '..'), { recursive: true });
      writeFileSync(join(repo, rel), 'first version');
      expect((await rawGet(srv.port, `/${rel}`)).body.toString()).toBe('first version');
      writeFileSync(join(repo, rel), 'second version!');
      expect((await rawGet(srv.port, `/${rel}`)).body.toString()).toBe('second version!');
    }
    writeFileSync(join(repo, 'summary'), summary);
  });

  it('answers conditional requests with 304', async () => {
    srv = await startOtsServer(repo);
    const first = await rawGet(srv.port, '/summary');
    const etag = first.headers.etag as string;
    expect(etag).toBeTruthy();
    expect((await rawGet(srv.port, '/summary', { 'if-none-match': etag })).status).toBe(304);
    expect((await rawGet(srv.port, '/summary', { 'if-modified-since': first.headers['last-modified'] as string })).status).toBe(304);
    expect((await rawGet(srv.port, '/summary', { 'if-none-match': '"other"' })).status).toBe(200);
  });

  it('serves byte ranges (206) and rejects unsatisfiable ones (416)', async () => {
    srv = await startOtsServer(repo);
    const full = await rawGet(srv.port, objectPath);
    const part = await rawGet(srv.port, objectPath, { range: 'bytes=10-99' });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 10-99/${full.body.length}`);
    expect(part.body.equals(full.body.subarray(10, 100))).toBe(true);
    const tail = await rawGet(srv.port, objectPath, { range: `bytes=${full.body.length - 5}-` });
    expect(tail.body.equals(full.body.subarray(full.body.length - 5))).toBe(true);
    const bad = await rawGet(srv.port, objectPath, { range: `bytes=${full.body.length + 10}-` });
    expect(bad.status).toBe(416);
    expect(bad.headers['content-range']).toBe(`bytes */${full.body.length}`);
  });

  it.each([
    '/%2e%2e/%2e%2e/etc/passwd', '/objects/..%2f..%2fconfig', '/objects/%2e%2e/config', '/..%2f..%2f..%2fetc%2fpasswd',
    '//etc/passwd', '/tmp/private', '/state/x', '/.lock', '/refs/heads/evil/link', '/refs/heads/outdir/secret',
    '/objects/', '/nonexistent', '/objects/00/' + '0'.repeat(62) + '.filez',
  ])('404 for %s', async (path) => {
    srv = await startOtsServer(repo);
    const r = await rawGet(srv.port, path);
    expect(r.status).toBe(404);
    expect(r.body.toString()).not.toContain('outside the repo');
  });
});
