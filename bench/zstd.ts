// bench/zstd: the design card named zstd-codec; this measures it against
// zstd-napi on delta-part-sized real data (shared libraries), each zstd-codec
// case in its own process because it aborts (emscripten OOM) on larger inputs.
// Run: npx tsx bench/zstd.ts
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { printTable, TMP } from './lib.js';

const require = createRequire(import.meta.url);
const work = mkdtempSync(`${TMP}/ots-bench-zstd-`);
const libdir = '/usr/lib/x86_64-linux-gnu';
const chunks: Buffer[] = [];
let total = 0;
for (const f of readdirSync(libdir).sort()) {
  const p = join(libdir, f);
  try { if (!statSync(p).isFile()) continue; } catch { continue; }
  const b = readFileSync(p);
  chunks.push(b);
  total += b.length;
  if (total > 40 * 1024 * 1024) break;
}
const data = Buffer.concat(chunks);
const input = join(work, 'data.bin');
writeFileSync(input, data);

const codecScript = join(work, 'codec.cjs');
writeFileSync(codecScript, `
const { ZstdCodec } = require(${JSON.stringify(require.resolve('zstd-codec'))});
const fs = require('fs');
const size = Number(process.argv[2]);
const data = fs.readFileSync(${JSON.stringify(input)}).subarray(0, size);
ZstdCodec.run((zstd) => {
  const simple = new zstd.Simple();
  const t0 = process.hrtime.bigint();
  const c = simple.compress(data, 3);
  const t1 = process.hrtime.bigint();
  const d = simple.decompress(c);
  const t2 = process.hrtime.bigint();
  if (!d || d.length !== data.length) { console.log('FAIL mismatch'); return; }
  console.log(JSON.stringify({ c: Number(t1 - t0) / 1e6, d: Number(t2 - t1) / 1e6, ratio: data.length / c.length }));
});
`);

const napi = require('zstd-napi') as { compress: (b: Buffer, o?: unknown) => Buffer; decompress: (b: Buffer) => Buffer };
const rows: Record<string, string>[] = [];
for (const mb of [1, 4, 6, 8, 16, 32]) {
  const size = mb * 1024 * 1024;
  const slice = data.subarray(0, size);
  const t0 = performance.now();
  const c = napi.compress(slice, { compressionLevel: 3 });
  const t1 = performance.now();
  const d = napi.decompress(c);
  const t2 = performance.now();
  if (!d.equals(slice)) throw new Error('zstd-napi round trip failed');
  const r = spawnSync(process.execPath, [codecScript, String(size)], { encoding: 'utf8', timeout: 120_000 });
  let codec = 'crashed';
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status === 0 && line.startsWith('{')) {
    const j = JSON.parse(line) as { c: number; d: number };
    codec = `c ${(mb / (j.c / 1000)).toFixed(0)} MB/s, d ${(mb / (j.d / 1000)).toFixed(0)} MB/s`;
  } else {
    codec = `FAILED (exit ${r.status ?? r.signal}: ${(r.stderr.match(/abort\([^)]*\)|OOM|out of memory/i)?.[0] ?? r.stderr.trim().split('\n').pop() ?? '').slice(0, 40)})`;
  }
  rows.push({ input: `${mb} MB`, 'zstd-napi L3': `c ${(mb / ((t1 - t0) / 1000)).toFixed(0)} MB/s, d ${(mb / ((t2 - t1) / 1000)).toFixed(0)} MB/s, ratio ${(size / c.length).toFixed(2)}`, 'zstd-codec L3 (Simple API)': codec });
}
rmSync(work, { recursive: true, force: true });
printTable(rows);
