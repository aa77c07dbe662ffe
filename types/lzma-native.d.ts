// Minimal typings for the parts of lzma-native we use (it ships none).
declare module 'lzma-native' {
  interface LzmaOptions { preset?: number; threads?: number; memlimit?: number; check?: number }
  export function compress(buf: Buffer | Uint8Array, opts?: LzmaOptions | number): Promise<Buffer>;
  export function decompress(buf: Buffer | Uint8Array, opts?: LzmaOptions): Promise<Buffer>;
  export function createDecompressor(opts?: LzmaOptions): import('node:stream').Transform;
  export function createCompressor(opts?: LzmaOptions): import('node:stream').Transform;
  const lzma: { compress: typeof compress; decompress: typeof decompress; createDecompressor: typeof createDecompressor; createCompressor: typeof createCompressor };
  export default lzma;
}
