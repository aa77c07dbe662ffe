// readRegular (native/ots_sys.c), the delta executor's source read: a whole
// regular file in one job; symlinks, FIFOs, directories, oversized and missing
// files are refused with the system error, never followed or waited on.
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nativeSys } from '../../../shared/native/sys.js';
import { makeTmpDir } from '../../helpers/tmp.js';

const native = nativeSys();
if (native === null) throw new Error('the native helper is not built: run npm run install');

const bytes = Buffer.alloc(3 << 20, 7);
bytes.write('head', 0);

/** A directory with a file, an empty file, a symlink, a FIFO and a subdirectory. */
function setup(): { dir: string; file: string } {
  const dir = makeTmpDir();
  const file = join(dir, 'f');
  writeFileSync(file, bytes);
  writeFileSync(join(dir, 'empty'), '');
  symlinkSync(file, join(dir, 'link'));
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  mkdirSync(join(dir, 'sub'));
  return { dir, file };
}

describe('readRegular', () => {
  it('reads a whole regular file (and an empty one)', async () => {
    const { dir, file } = setup();
    expect(Buffer.from(await native.readRegular(file, bytes.length)).equals(bytes)).toBe(true);
    expect((await native.readRegular(join(dir, 'empty'), 0)).length).toBe(0);
  });

  it.each([
    ['link', 'ELOOP'], ['fifo', 'EINVAL'], ['sub', 'EINVAL'], ['missing', 'ENOENT'],
  ])('refuses %s (%s)', async (name, code) => {
    const { dir } = setup();
    const err = (await native.readRegular(join(dir, name), 1 << 30).catch((e: unknown) => e)) as { errno: number; path: string };
    expect(err).toBeInstanceOf(Error);
    expect(-err.errno).toBe((await import('node:os')).constants.errno[code as 'ELOOP']);
    expect(err.path).toBe(join(dir, name));
  });

  it('refuses a file larger than the limit (EFBIG)', async () => {
    const { file } = setup();
    const err = (await native.readRegular(file, bytes.length - 1).catch((e: unknown) => e)) as { errno: number };
    expect(-err.errno).toBe((await import('node:os')).constants.errno.EFBIG);
  });
});
