// The single path-safety rule for tree entry names (validation.md §2,
// ot_util_filename_validate): not empty, not '.', not '..', no '/', no NUL.
import { OtError } from '../errors.js';

/** Throws ERR_UNSAFE_PATH unless `name` is a safe single path component. Pure. */
export function validateFilename(name: string, context = 'filename'): void {
  let why: string | undefined;
  if (name === '') why = 'empty filename';
  else if (name === '.') why = "self-referential filename '.'";
  else if (name === '..') why = "path uplink filename '..'";
  else if (name.includes('/')) why = `/ in filename ${name}`;
  else if (name.includes('\0')) why = 'NUL in filename';
  else if (name.length > 255 && Buffer.byteLength(name) > 255) why = 'filename longer than 255 bytes';
  if (why !== undefined) {
    throw new OtError('ERR_UNSAFE_PATH', `Invalid ${why} (${context})`, { path: name.slice(0, 300) });
  }
}
