// Object types and their loose-file extensions (objects.md §1, repo-layout.md §2).

/** OSTree object types, with the numeric codes used in static deltas. */
export type ObjectType = 'file' | 'dirtree' | 'dirmeta' | 'commit' | 'tombstone-commit' | 'commitmeta';

export const OBJECT_TYPE_CODES: Readonly<Record<ObjectType, number>> = {
  file: 1, dirtree: 2, dirmeta: 3, commit: 4, 'tombstone-commit': 5, commitmeta: 6,
};

/** True for metadata objects (everything but content). */
export function isMetadataType(type: ObjectType): boolean {
  return type !== 'file';
}

/** The loose-file extension of an object in a repo of the given kind ('.filez' only for archive content). */
export function objectExtension(type: ObjectType, archive: boolean): string {
  if (type === 'file') return archive ? '.filez' : '.file';
  return `.${type}`;
}

/** Map an extension back to its type (for fsck and listing). */
export function objectTypeFromExtension(ext: string): ObjectType | undefined {
  switch (ext) {
    case '.file': case '.filez': return 'file';
    case '.dirtree': return 'dirtree';
    case '.dirmeta': return 'dirmeta';
    case '.commit': return 'commit';
    case '.commitmeta': return 'commitmeta';
    case '.tombstone-commit': return 'tombstone-commit';
    default: return undefined;
  }
}
