// A private tmpfs for a sysroot: stock `ostree admin deploy` freezes the
// filesystem holding /boot (FIFREEZE), which tmpfs does not support, so it is
// skipped there instead of freezing the machine's root filesystem.
import { mkdirSync } from 'node:fs';
import { onTestFinished } from 'vitest';
import { runOk } from './run.js';

export async function mountTmpfs(dir: string, sizeMb = 256): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await runOk('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'tmpfs', dir]);
  onTestFinished(async () => { await runOk('umount', ['-l', dir]); });
}
