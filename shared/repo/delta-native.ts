// Static-delta parts through native/delta_exec.c: the interpreter of
// shared/delta/execute.ts run in the thread pool for bare-user repositories,
// every object SHA-256-verified and created straight in the transaction's
// staging directory (read sources from there or objects/). A delta pull
// spent ~100 µs of main-thread time per object in the TypeScript one.
import { OtError } from '../errors.js';
import { encode } from '../gvariant/index.js';
import { encodeObjectList, type DeltaObject, type PartPayload } from '../delta/index.js';
import { nativeSys, nativeSystemError } from '../native/sys.js';
import { xattrsToValue, type Checksum } from '../objects/index.js';
import type { Transaction } from './transaction.js';

export type PartExecutor = (part: PartPayload, objects: readonly DeltaObject[]) => Promise<number>;

/**
 * The native executor for `tx`, or null (not bare-user, no native helper, or
 * OTS_NO_NATIVE_DELTA=1): then use executePart. It returns the objects the
 * part wrote or throws what executePart would (ERR_BAD_FORMAT, ERR_TOO_LARGE,
 * ERR_CHECKSUM_MISMATCH, system errors); objects created before a failure
 * were verified and stay staged.
 */
export function nativePartExecutor(tx: Transaction, maxObjectSize: number): PartExecutor | null {
  const native = tx.repo.mode === 'bare-user' && process.env.OTS_NO_NATIVE_DELTA !== '1' ? nativeSys() : null;
  if (native === null) return null;
  return async (part, objects) => {
    const modes = new Uint32Array(part.modes.length * 3);
    part.modes.forEach((m, k) => { modes[3 * k] = m.uid; modes[3 * k + 1] = m.gid; modes[3 * k + 2] = m.mode; });
    const res = await native.executePart({
      stagingDir: tx.stagingDir, sourceDirs: [tx.stagingDir, `${tx.repo.path}/objects`], contentExt: '.file',
      payload: part.payload, ops: part.ops, modes, xattrs: part.xattrs.map((x) => encode('a(ayay)', xattrsToValue(x))),
      objects: encodeObjectList(objects), skip: Uint8Array.from(objects, (o) => (tx.hasObjectSync(o.checksum, o.type) ? 1 : 0)), maxObjectSize,
    });
    for (const k of res.staged) {
      const o = objects[k] as DeltaObject;
      tx.markStaged(o.checksum, o.type);
    }
    const e = res.error;
    if (e === undefined) return res.written;
    if ('errno' in e) throw nativeSystemError(e);
    throw new OtError(e.code, e.message, { offset: e.offset >= 0 ? e.offset : undefined, checksum: e.checksum as Checksum | undefined, found: e.code === 'ERR_CHECKSUM_MISMATCH' ? e.actual : undefined });
  };
}
