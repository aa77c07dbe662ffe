// Delta part compression: 0 (none) and 'x' (xz), plus our 'z' (zstd,
// zstd-napi: zstd-codec aborts on inputs over ~4 MB, bench/zstd.ts).
// xz runs through the system's xz (XZ Utils 5.4 here: ~1.6x faster than the
// liblzma 5.2.3 built into lzma-native, both ways) and falls back to
// lzma-native — the only Node 20 library measured to really compress
// (../shared/research/dependencies.md §3) — where there is no working xz.
// Decompression is capped so a part cannot balloon.
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { OtError } from '../errors.js';
import { lazyRequire } from '../lazy-require.js';
import { COMPRESSION_BYTE, splitPartFile, type PartCompression } from './part.js';

/** Decompress a part file's payload, refusing more than `maxSize` bytes of output. */
export async function decompressPart(file: Uint8Array, maxSize: number): Promise<Uint8Array> {
  const { compression, data } = splitPartFile(file);
  if (compression === 'none') return data;
  if (compression === 'xz') {
    const viaTool = await runXz(Buffer.from(data.buffer, data.byteOffset, data.byteLength), ['-d', '--memlimit=256MiB'], maxSize);
    if (viaTool !== null) return viaTool;
  }
  if (compression === 'zstd') {
    const whole = zstdOneShot(Buffer.from(data.buffer, data.byteOffset, data.byteLength), maxSize);
    if (whole !== null) return whole;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  // Native codecs load on first use: most commands never touch a delta (start-up time).
  const decoder = compression === 'zstd'
    ? new (lazyRequire<typeof import('zstd-napi')>('zstd-napi')).DecompressStream({ windowLogMax: 27 })
    : lazyRequire<typeof import('lzma-native')>('lzma-native').createDecompressor({ memlimit: 256 * 1024 * 1024 });
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

/**
 * zstd frames that declare their content size (ours all do) are decompressed
 * in one call into one buffer: ~10 ms for an 8 MiB part, where the stream
 * path spends ~90 ms of main-thread time in small chunks. The declared sizes
 * are summed and capped before anything is allocated; a frame that lies about
 * its size fails in the decoder. null when a frame does not declare its size
 * (the stream path then decodes it, capped as it goes).
 */
function zstdOneShot(data: Buffer, maxSize: number): Uint8Array | null {
  const z = lazyRequire<typeof import('zstd-napi/binding.js')>('zstd-napi/binding.js');
  try {
    let total = 0;
    for (let frame = data; frame.length > 0; frame = frame.subarray(z.findFrameCompressedSize(frame))) {
      const size = z.getFrameContentSize(frame);
      if (size === null) return null;
      total += size;
      if (total > maxSize) throw new OtError('ERR_TOO_LARGE', `Delta part inflates beyond ${maxSize} bytes`);
    }
    const out = Buffer.allocUnsafe(total);
    const dctx = new z.DCtx();
    dctx.setParameter(z.DParameter.windowLogMax, 27);
    const got = dctx.decompress(out, data);
    if (got !== total) throw new Error(`decoded ${got} of the ${total} bytes its frames declare`);
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  } catch (err: unknown) {
    if (err instanceof OtError) throw err;
    throw new OtError('ERR_BAD_FORMAT', `Corrupt zstd delta part: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** Build a part file: compression byte + (compressed) payload. */
export async function compressPart(payload: Uint8Array, compression: PartCompression, opts: XzOptions = {}): Promise<Uint8Array> {
  let body: Uint8Array;
  if (compression === 'none') body = payload;
  else if (compression === 'xz') body = await xzCompress(payload, opts);
  // zstd level 19: publishing is done once, so trade generation time for size (within ~10% of xz);
  // with the frame checksum, as xz parts carry CRC64 (a corrupt frame fails in the decoder).
  else body = new Uint8Array(lazyRequire<typeof import('zstd-napi')>('zstd-napi').compress(payload, { compressionLevel: 19, checksumFlag: true }));
  const out = new Uint8Array(body.length + 1);
  out[0] = COMPRESSION_BYTE[compression];
  out.set(body, 1);
  return out;
}

export interface XzOptions {
  /** The payload is mostly x86/x86-64 machine code: add the x86 BCJ filter. */
  x86?: boolean;
  /**
   * xz block size in MiB (default 8): blocks are compressed on separate cores.
   * Smaller blocks finish a lone part sooner at a small cost in size.
   */
  blockMiB?: number;
}

/**
 * Fraction of ELF bytes that are x86 code above which a part gets the x86 BCJ
 * filter. Every liblzma decoder (ostree's, lzma-native's) has that filter; the
 * ARM64 one only exists since liblzma 5.4, so other machines get plain LZMA2.
 */
export const X86_SHARE_FOR_BCJ = 0.5;

/**
 * The ELF machine of a file's first bytes: 'x86' (EM_386, EM_X86_64),
 * 'other', or null when it is not ELF. Pure.
 */
export function elfMachine(data: Uint8Array): 'x86' | 'other' | null {
  if (data.length < 20 || data[0] !== 0x7f || data[1] !== 0x45 || data[2] !== 0x4c || data[3] !== 0x46) return null;
  const machine = data[5] === 2 ? ((data[18] as number) << 8) | (data[19] as number) : (data[18] as number) | ((data[19] as number) << 8);
  return machine === 3 || machine === 62 ? 'x86' : 'other';
}

/**
 * xz-compress a part. The system's xz (XZ Utils, the liblzma ostree itself
 * links) when present: its encoder is ~1.6x faster per core than the liblzma
 * 5.2.3 inside lzma-native, and it can split a part into blocks for every core.
 * x86 code goes through the BCJ filter, which shrinks it enough to use LZMA2
 * preset 4 instead of 6 at the same size (bench/delta.ts: 27.8 MB payload,
 * 6.13 MB at -6 in 10.8 s with lzma-native → 6.21 MB in ~3 s CPU).
 * Output is one standard .xz stream with CRC64, as ostree writes.
 * Without a working xz binary, lzma-native in-process at preset 6.
 */
export async function xzCompress(payload: Uint8Array, opts: XzOptions = {}): Promise<Uint8Array> {
  const input = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  // A 1 MiB dictionary (preset 6 would take 8 MiB): an encoder needs ~13 MB
  // instead of ~95 MB, and parts are 8 MiB at most; on the bench's v1->v2 delta
  // the parts grow by 0.3 % against a 4 MiB dictionary (6.27 vs 6.25 MB; stock's
  // delta is 6.5 MB) while peak RSS summed over ots and its xz processes drops
  // from ~255 MB to ~170 MB (bench/delta.ts; stock: ~370 MB). Clients need a
  // 1 MiB dictionary to decompress, too.
  // One thread per xz unless the caller splits the part into blocks (the last
  // part, when nothing else is left to run beside it): parts already compress
  // side by side, one xz per core.
  const filters = opts.x86 ? ['--x86', '--lzma2=preset=4,dict=1MiB'] : ['--lzma2=preset=6,dict=1MiB'];
  const threads = opts.blockMiB !== undefined ? ['-T0', `--block-size=${opts.blockMiB}MiB`] : ['-T1'];
  const viaTool = await runXz(input, [...filters, ...threads, '--check=crc64']);
  if (viaTool !== null) return viaTool;
  return new Uint8Array(await lazyRequire<typeof import('lzma-native')>('lzma-native').compress(input, { preset: 6 }));
}

/**
 * Run the system xz over `input` (`args` + `-c -q`), collecting at most
 * `maxOut` bytes of output (more kills it: ERR_TOO_LARGE). null when xz is
 * missing or fails in any way (an xz without these options, e.g. busybox's, or
 * corrupt input): the caller then uses lzma-native, which gives the verdict.
 */
async function runXz(input: Buffer, args: string[], maxOut = Number.MAX_SAFE_INTEGER): Promise<Uint8Array | null> {
  // Loaded on demand: short commands (deploy, checkout) never need child_process.
  const { spawn } = lazyRequire<typeof import('node:child_process')>('node:child_process');
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (f: () => void) => { if (!settled) { settled = true; f(); } };
    const child = spawn('xz', [...args, '-c', '-q'], { stdio: ['pipe', 'pipe', 'ignore'] });
    const out: Buffer[] = [];
    let size = 0;
    child.stdout.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxOut) {
        child.kill('SIGKILL');
        done(() => reject(new OtError('ERR_TOO_LARGE', `Delta part inflates beyond ${maxOut} bytes`)));
        return;
      }
      out.push(c);
    });
    child.stdin.on('error', () => undefined); // reported through 'close' below
    child.on('error', () => done(() => resolve(null)));
    child.on('close', (code) => done(() => {
      if (code !== 0) { resolve(null); return; }
      const b = Buffer.concat(out, size);
      resolve(new Uint8Array(b.buffer, b.byteOffset, b.length));
    }));
    child.stdin.end(input);
  });
}
