// tree_format: see tree_format.h. GVariant rules used here (gvariant.md):
// a container of size n stores framing offsets of w bytes, little-endian,
// w = 0, 1, 2, 4 or 8 for n = 0, <= 0xff, <= 0xffff, <= 0xffffffff, larger;
// an array of variable-size elements ends with one offset per element (the
// end of each), the last one also marking where the table starts; a tuple
// ends with the end offsets of its variable-size members except the last,
// in reverse order. Every type here has alignment 1 except dirmeta's
// leading uint32s.
#include "tree_format.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static size_t width(size_t n) { return n == 0 ? 0 : n <= 0xff ? 1 : n <= 0xffff ? 2 : n <= 0xffffffffu ? 4 : 8; }

static size_t read_offset(const uint8_t *p, size_t w) {
  size_t v = 0;
  for (size_t i = 0; i < w; i++) v |= (size_t)p[i] << (8 * i);
  return v;
}

// The element table of an array of variable-size elements in b[0, n):
// *count elements, the i-th ending at table_entry(i). -1 when malformed.
typedef struct {
  const uint8_t *b;
  size_t n, w, table, count;
} Array;

static int array_open(Array *a, const uint8_t *b, size_t n) {
  a->b = b;
  a->n = n;
  a->w = width(n);
  a->count = 0;
  a->table = n;
  if (n == 0) return 0;
  size_t t = read_offset(b + n - a->w, a->w);
  // A non-empty array has at least one framing offset: the last one.
  if (t >= n || (n - t) % a->w != 0) return -1;
  a->table = t;
  a->count = (n - t) / a->w;
  return 0;
}

// Bounds of element i given the previous element's end; -1 when out of order or range.
static int array_element(const Array *a, size_t i, size_t prev_end, size_t *start, size_t *end) {
  size_t e = read_offset(a->b + a->table + i * a->w, a->w);
  if (e < prev_end || e > a->table) return -1;
  *start = prev_end;
  *end = e;
  return 0;
}

// A well-formed UTF-8 sequence (no overlongs, no surrogates, <= U+10FFFF).
int ots_utf8_valid(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) len = 2, cp = c & 0x1f;
    else if ((c & 0xf0) == 0xe0) len = 3, cp = c & 0x0f;
    else if ((c & 0xf8) == 0xf0) len = 4, cp = c & 0x07;
    else return 0;
    if (i + len > n) return 0;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return 0;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return 0;
    i += len;
  }
  return 1;
}

// A NUL-terminated string in b[start, end) that is a valid ostree filename.
static int filename_at(const uint8_t *b, size_t start, size_t end, const char **name, size_t *len, const char **why) {
  if (end <= start || b[end - 1] != 0 || memchr(b + start, 0, end - start - 1) != NULL) {
    *why = "name is not a NUL-terminated string";
    return -1;
  }
  size_t l = end - start - 1;
  const char *s = (const char *)b + start;
  if (!ots_utf8_valid((const uint8_t *)s, l)) {
    *why = "filename is not valid UTF-8";
    return -1;
  }
  if (l == 0) *why = "empty filename";
  else if (l == 1 && s[0] == '.') *why = "self-referential filename '.'";
  else if (l == 2 && s[0] == '.' && s[1] == '.') *why = "path uplink filename '..'";
  else if (memchr(s, '/', l) != NULL) *why = "'/' in filename";
  else if (l > 255) *why = "filename longer than 255 bytes";
  else {
    *name = s;
    *len = l;
    return 0;
  }
  return OTS_UNSAFE_NAME;
}

// Split the dirtree tuple into its two arrays.
static int dirtree_arrays(const uint8_t *b, size_t n, Array *files, Array *dirs, const char **why) {
  size_t w = width(n);
  size_t files_end = n == 0 ? 0 : read_offset(b + n - w, w);
  if (n < w || files_end > n - w) {
    *why = "bad tuple framing offset";
    return -1;
  }
  if (array_open(files, b, files_end) != 0 || array_open(dirs, b + files_end, n - w - files_end) != 0) {
    *why = "bad array framing offsets";
    return -1;
  }
  return 0;
}

int ots_dirtree_counts(const uint8_t *b, size_t n, size_t *nfiles, size_t *ndirs, const char **why) {
  Array f, d;
  if (dirtree_arrays(b, n, &f, &d, why) != 0) return -1;
  *nfiles = f.count;
  *ndirs = d.count;
  return 0;
}

int ots_dirtree_parse(const uint8_t *b, size_t n, OtsDirtree *out, const char **why) {
  Array f, d;
  if (dirtree_arrays(b, n, &f, &d, why) != 0) return -1;
  size_t prev = 0, start, end;
  for (size_t i = 0; i < f.count; i++, prev = end) {
    if (array_element(&f, i, prev, &start, &end) != 0) {
      *why = "bad file entry offsets";
      return -1;
    }
    size_t size = end - start, ew = width(size);
    if (size < ew + 33) {
      *why = "file entry too short";
      return -1;
    }
    size_t name_end = start + read_offset(f.b + end - ew, ew);
    if (name_end - start > size || name_end + 32 != end - ew) {
      *why = "file checksum is not 32 bytes";
      return -1;
    }
    OtsTreeFile *o = &out->files[i];
    int e = filename_at(f.b, start, name_end, &o->name, &o->name_len, why);
    if (e != 0) return e;
    o->csum = f.b + name_end;
  }
  out->nfiles = f.count;
  prev = 0;
  for (size_t i = 0; i < d.count; i++, prev = end) {
    if (array_element(&d, i, prev, &start, &end) != 0) {
      *why = "bad directory entry offsets";
      return -1;
    }
    size_t size = end - start, ew = width(size);
    if (size < 2 * ew + 65) {
      *why = "directory entry too short";
      return -1;
    }
    size_t name_end = start + read_offset(d.b + end - ew, ew);
    size_t tree_end = start + read_offset(d.b + end - 2 * ew, ew);
    if (name_end - start > size || tree_end - start > size || name_end > tree_end || tree_end != name_end + 32 || tree_end + 32 != end - 2 * ew) {
      *why = "directory checksums are not 32 bytes";
      return -1;
    }
    OtsTreeDir *o = &out->dirs[i];
    int e = filename_at(d.b, start, name_end, &o->name, &o->name_len, why);
    if (e != 0) return e;
    o->tree = d.b + name_end;
    o->meta = d.b + tree_end;
  }
  out->ndirs = d.count;
  return 0;
}

void ots_dirtree_free(OtsDirtree *t) {
  free(t->files);
  free(t->dirs);
  t->files = NULL;
  t->dirs = NULL;
}

int ots_dirtree_read(const uint8_t *b, size_t n, OtsDirtree *out, const char **why) {
  *out = (OtsDirtree){0};
  if (ots_dirtree_counts(b, n, &out->nfiles, &out->ndirs, why) != 0) return -1;
  out->files = malloc((out->nfiles + 1) * sizeof *out->files);
  out->dirs = malloc((out->ndirs + 1) * sizeof *out->dirs);
  int err = out->files == NULL || out->dirs == NULL ? OTS_TREE_NOMEM : ots_dirtree_parse(b, n, out, why);
  if (err == OTS_TREE_NOMEM) *why = "out of memory";
  if (err != 0) ots_dirtree_free(out);
  return err;
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

int ots_dirmeta_parse(const uint8_t *b, size_t n, OtsDirmeta *out, const char **why) {
  if (n < 12) {
    *why = "dirmeta shorter than 12 bytes";
    return -1;
  }
  out->uid = be32(b);
  out->gid = be32(b + 4);
  out->mode = be32(b + 8);
  if ((out->mode & S_IFMT) != S_IFDIR || (out->mode & ~(uint32_t)(S_IFMT | 07777)) != 0) {
    *why = "invalid directory metadata mode";
    return -1;
  }
  Array x;
  if (array_open(&x, b + 12, n - 12) != 0) {
    *why = "bad xattr array framing offsets";
    return -1;
  }
  out->xattrs = b + 12;
  out->xattrs_len = n - 12;
  out->nxattrs = x.count;
  // Validate every entry now, so that ots_xattr_at cannot fail later.
  for (size_t i = 0; i < x.count; i++) {
    const char *name;
    const uint8_t *value;
    size_t vlen;
    if (ots_xattr_at(out, i, &name, &value, &vlen, why) != 0) return -1;
  }
  return 0;
}

int ots_xattr_at(const OtsDirmeta *m, size_t i, const char **name, const uint8_t **value, size_t *value_len, const char **why) {
  Array x;
  size_t start = 0, end = 0;
  if (array_open(&x, m->xattrs, m->xattrs_len) != 0 || i >= x.count) {
    *why = "bad xattr array";
    return -1;
  }
  size_t prev = i == 0 ? 0 : read_offset(x.b + x.table + (i - 1) * x.w, x.w);
  if (prev > x.table || array_element(&x, i, prev, &start, &end) != 0) {
    *why = "bad xattr entry offsets";
    return -1;
  }
  size_t size = end - start, ew = width(size);
  if (size < ew) {
    *why = "xattr entry too short";
    return -1;
  }
  size_t name_end = start + read_offset(x.b + end - ew, ew);
  if (name_end - start > size || name_end > end - ew || name_end == start || x.b[name_end - 1] != 0
      || memchr(x.b + start, 0, name_end - start - 1) != NULL || name_end - start < 2) {
    *why = "xattr name is not a NUL-terminated string";
    return -1;
  }
  *name = (const char *)x.b + start;
  *value = x.b + name_end;
  *value_len = end - ew - name_end;
  return 0;
}
