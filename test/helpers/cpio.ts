// A newc ("070701") cpio archive, as the kernel unpacks an initramfs: enough
// for a few directories, files and symlinks. Pure.
export interface CpioEntry { path: string; mode: number; data?: Uint8Array; target?: string }

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');
const pad4 = (n: number): Buffer => Buffer.alloc((4 - (n % 4)) % 4);

export const cpioDir = (path: string, mode = 0o755): CpioEntry => ({ path, mode: S_IFDIR | mode });
export const cpioFile = (path: string, data: Uint8Array | string, mode = 0o644): CpioEntry => ({ path, mode: S_IFREG | mode, data: typeof data === 'string' ? Buffer.from(data) : data });
export const cpioSymlink = (path: string, target: string): CpioEntry => ({ path, mode: S_IFLNK | 0o777, target });

export function cpioNewc(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const add = (name: string, mode: number, body: Buffer, nlink: number) => {
    const nameBuf = Buffer.from(`${name}\0`);
    const header = `070701${[ino++, mode, 0, 0, nlink, 0, body.length, 0, 0, 0, 0, nameBuf.length, 0].map(hex8).join('')}`;
    parts.push(Buffer.from(header), nameBuf, pad4(110 + nameBuf.length), body, pad4(body.length));
  };
  for (const e of entries) {
    const body = e.target !== undefined ? Buffer.from(e.target) : Buffer.from(e.data ?? new Uint8Array(0));
    add(e.path, e.mode, body, (e.mode & 0o170000) === S_IFDIR ? 2 : 1);
  }
  add('TRAILER!!!', 0, Buffer.alloc(0), 1);
  return Buffer.concat(parts);
}
