// tree_format: pure parsers for the two metadata objects a checkout reads,
// dirtree (a(say)a(sayay)) and dirmeta (uuua(ayay)) (shared/spec objects.md,
// gvariant.md). No I/O, no allocation beyond the caller's arrays; every read
// is bounds-checked, so any byte string is either parsed or rejected with a
// reason. The same rules as shared/objects/dirtree.ts readDirtreeDirect and
// dirmeta.ts decodeDirmeta (test/unit/native/tree-format.test.ts compares them
// on valid, mutated and random inputs). ots_dirtree_read allocates the arrays.
#ifndef OTS_TREE_FORMAT_H
#define OTS_TREE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  const char *name;  // NUL-terminated inside the parsed buffer
  size_t name_len;   // without the NUL
  const uint8_t *csum;
} OtsTreeFile;

typedef struct {
  const char *name;
  size_t name_len;
  const uint8_t *tree, *meta;
} OtsTreeDir;

typedef struct {
  OtsTreeFile *files;  // caller-owned arrays, sized by ots_dirtree_counts
  OtsTreeDir *dirs;
  size_t nfiles, ndirs;
} OtsDirtree;

typedef struct {
  uint32_t uid, gid, mode;
  size_t nxattrs;
  const uint8_t *xattrs;  // the a(ayay) bytes, for ots_xattr_at
  size_t xattrs_len;
} OtsDirmeta;

// Element counts of a dirtree, so the caller can size the arrays; 0 on
// success, else -1 with *why set to a static description.
int ots_dirtree_counts(const uint8_t *b, size_t n, size_t *nfiles, size_t *ndirs, const char **why);
// Parse into out->files/out->dirs (sized by ots_dirtree_counts). Names are
// validated as ostree filenames (non-empty, not . or .., no '/', valid
// UTF-8, at most 255 bytes): OTS_UNSAFE_NAME for a name that is a valid
// string but not a safe filename, -1 for anything else malformed.
// Checksums must be 32 bytes. Duplicate names are
// not detected here (the kernel reports them: every directory is new).
#define OTS_UNSAFE_NAME (-2)
int ots_dirtree_parse(const uint8_t *b, size_t n, OtsDirtree *out, const char **why);

// ots_dirtree_counts + arrays malloc'd + ots_dirtree_parse: 0, -1, OTS_UNSAFE_NAME or
// OTS_TREE_NOMEM; on failure nothing stays allocated. Free with ots_dirtree_free.
#define OTS_TREE_NOMEM (-3)
int ots_dirtree_read(const uint8_t *b, size_t n, OtsDirtree *out, const char **why);
void ots_dirtree_free(OtsDirtree *t);

// Parse a dirmeta; the mode must be a directory with no bits outside S_IFMT|07777.
int ots_dirmeta_parse(const uint8_t *b, size_t n, OtsDirmeta *out, const char **why);
// The i-th xattr of a parsed dirmeta: name (NUL-terminated, validated) and value.
int ots_xattr_at(const OtsDirmeta *m, size_t i, const char **name, const uint8_t **value, size_t *value_len, const char **why);

// A well-formed UTF-8 string (no overlongs, no surrogates, <= U+10FFFF).
int ots_utf8_valid(const uint8_t *s, size_t n);

#endif
