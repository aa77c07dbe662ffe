// Loose object paths: objects/XX/REST.EXT (repo-layout.md §2). Pure.
import type { Checksum } from './checksum.js';
import { objectExtension, type ObjectType } from './object-type.js';

/** Repo-relative path of a loose object. */
export function loosePath(csum: Checksum, type: ObjectType, archive: boolean): string {
  return `objects/${csum.slice(0, 2)}/${csum.slice(2)}${objectExtension(type, archive)}`;
}
