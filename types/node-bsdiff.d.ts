// Minimal typings for node-bsdiff's native binding (it ships none).
declare module 'node-bsdiff' {
  export const native: { diff(oldBuf: Buffer, newBuf: Buffer, onChunk: (chunk: Buffer) => void): void };
}
