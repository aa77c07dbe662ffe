// Ref names and ref files (repo-layout.md §1, §5; validation.md §1). Pure.
import { OtError } from '../errors.js';

const FRAG = /^[\p{L}\p{N}_][-.\p{L}\p{N}_]*$/u;

/** Throws ERR_INVALID_ARGUMENT unless `name` is a valid ref name. */
export function validateRefName(name: string): void {
  if (name === '' || !name.split('/').every((f) => FRAG.test(f))) {
    throw new OtError('ERR_INVALID_ARGUMENT', `Invalid ref name ${name}`, { hint: 'refs are FRAG(/FRAG)* with FRAG = [\\w\\d][-._\\w\\d]*' });
  }
}

/** Throws ERR_INVALID_ARGUMENT unless `name` is a valid remote name. */
export function validateRemoteName(name: string): void {
  if (!FRAG.test(name)) throw new OtError('ERR_INVALID_ARGUMENT', `Invalid remote name ${name}`);
}

/** A parsed refspec `[remote:]ref`. */
export interface Refspec { remote: string | null; ref: string }

/** Split `[remote:]ref` and validate both parts. */
export function parseRefspec(spec: string): Refspec {
  const i = spec.indexOf(':');
  const remote = i === -1 ? null : spec.slice(0, i);
  const ref = i === -1 ? spec : spec.slice(i + 1);
  if (remote !== null) validateRemoteName(remote);
  validateRefName(ref);
  return { remote, ref };
}
