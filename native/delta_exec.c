// The static-delta part interpreter in C, for bare-user repositories: one
// thread-pool job runs a whole part (static-deltas.md §5) — opcodes, read
// sources, bspatch, SHA-256 of every object, and the object files created in
// the transaction's staging directory — where shared/delta/execute.ts would
// spend ~100 µs of main-thread time per object. Same rules and checks as
// execute.ts (test/unit/delta/execute-native.test.ts runs both on the same
// valid and mutated parts):
//
//   executePart({stagingDir, sourceDirs, contentExt, payload, ops, modes,
//                xattrs, objects, skip, maxObjectSize})
//     -> Promise<{written, staged: number[], error?}>
//
// `modes` is a Uint32Array of (uid, gid, mode) triples (host order), `xattrs`
// the canonical a(ayay) bytes of each xattr set, `objects` the part's object
// list (33 bytes each: type, checksum), `skip` one byte per object (1: already
// stored: parsed, not built). Objects are created as stagingDir/xx/rest.ext
// (O_EXCL; a name that exists is left to whoever made it). `staged` lists the
// indexes of the objects this job created; `error` the first failure:
// {code: ERR_BAD_FORMAT | ERR_TOO_LARGE | ERR_CHECKSUM_MISMATCH | ERR_OBJECT_NOT_FOUND, message,
// offset?, checksum?, actual?} or a system error. Objects created before a
// failure stay (each was verified) and are listed in `staged`.
#define _GNU_SOURCE
#include "ots_sys.h"
#include "tree_format.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>


enum { T_FILE = 1, T_DIRTREE = 2, T_DIRMETA = 3, T_COMMIT = 4 };
#define S_TYPE_MASK 0170000u
#define S_LINK 0120000u

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  int stage_fd;
  int source_fds[2];
  size_t nsource;
  char content_ext[8];
  struct iovec payload, ops, objects, skip, modes;
  napi_ref refs[5];
  struct iovec *xattrs;
  napi_ref *xattr_refs;
  size_t nxattrs;
  uint64_t max_object;
  // Results.
  uint32_t *staged;
  size_t nstaged, written;
  // The first failure: a format verdict (code) or a system error (err).
  const char *code;
  char msg[256];
  int64_t offset;
  char csum[65], actual[65];
  int err;
  const char *syscall;
  char path[96];
} ExecJob;

static int fail(ExecJob *j, const char *code, int64_t offset, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(ExecJob *j, const char *code, int64_t offset, const char *fmt, ...) {
  if (j->code == NULL && j->err == 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->msg, sizeof j->msg, fmt, ap);
    va_end(ap);
    j->code = code;
    j->offset = offset;
  }
  return -1;
}

static int sys_fail(ExecJob *j, int err, const char *syscall, const char *path) {
  if (j->code == NULL && j->err == 0) {
    j->err = err;
    j->syscall = syscall;
    snprintf(j->path, sizeof j->path, "%s", path);
  }
  return -1;
}

// Unsigned LEB128, at most 8 bytes (as shared/delta/varint.ts).
static int varint(ExecJob *j, size_t *pc, uint64_t *out) {
  const uint8_t *b = j->ops.iov_base;
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) {
    if (*pc + (size_t)i >= j->ops.iov_len) return fail(j, "ERR_BAD_FORMAT", (int64_t)*pc, "Truncated varint at offset %zu", *pc);
    v |= (uint64_t)(b[*pc + (size_t)i] & 0x7f) << (7 * i);
    if ((b[*pc + (size_t)i] & 0x80) == 0) {
      *pc += (size_t)i + 1;
      *out = v;
      return 0;
    }
  }
  return fail(j, "ERR_BAD_FORMAT", (int64_t)*pc, "Varint too long at offset %zu", *pc);
}

// payload[offset, offset + length), range-checked.
static const uint8_t *slice(ExecJob *j, uint64_t offset, uint64_t length, const char *what, size_t pc) {
  if (offset > j->payload.iov_len || length > j->payload.iov_len - offset) {
    fail(j, "ERR_BAD_FORMAT", (int64_t)offset, "Invalid offset/length %llu/%llu for %s (payload is %zu bytes)", (unsigned long long)offset,
         (unsigned long long)length, what, j->payload.iov_len);
    (void)pc;
    return NULL;
  }
  return (const uint8_t *)j->payload.iov_base + offset;
}

static size_t offset_width(size_t body) {
  return body + 1 <= 0xff ? 1 : body + 2 <= 0xffff ? 2 : body + 4 <= 0xffffffffu ? 4 : 8;
}

static void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

// The hashed header of a content object: u32 BE length ‖ 4 zero bytes ‖
// (uuuusa(ayay)) with uid, gid, mode big-endian, rdev 0 (objects.md §3). malloc'd.
uint8_t *ots_file_header(uint32_t uid, uint32_t gid, uint32_t mode, const uint8_t *target, size_t tlen, const struct iovec *x, size_t *len) {
  size_t body = 16 + tlen + 1 + x->iov_len, w = offset_width(body), gv = body + w;
  uint8_t *h = malloc(8 + gv);
  if (h == NULL) return NULL;
  put_be32(h, (uint32_t)gv);
  memset(h + 4, 0, 4);
  uint8_t *g = h + 8;
  put_be32(g, uid);
  put_be32(g + 4, gid);
  put_be32(g + 8, mode);
  memset(g + 12, 0, 4);
  if (tlen > 0) memcpy(g + 16, target, tlen);
  g[16 + tlen] = 0;
  if (x->iov_len > 0) memcpy(g + 17 + tlen, x->iov_base, x->iov_len);
  uint64_t end = 16 + tlen + 1;
  for (size_t i = 0; i < w; i++) g[body + i] = (uint8_t)(end >> (8 * i));
  *len = 8 + gv;
  return h;
}

static void sha256_hex(const struct iovec *parts, size_t n, char *out65) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1) {
    for (size_t i = 0; i < n; i++) EVP_DigestUpdate(ctx, parts[i].iov_base, parts[i].iov_len);
    EVP_DigestFinal_ex(ctx, md, &mdlen);
  }
  EVP_MD_CTX_free(ctx);
  if (mdlen == 32) ots_hex(md, out65);
  else memset(out65, 0, 65);
}

// Create stagingDir/xx/rest.ext with `data`, an optional xattr, and `mode` last.
// 1 created, 0 already there (someone else's), -1 failed (nothing left behind).
static int create_object(ExecJob *j, const uint8_t *csum, const char *ext, const uint8_t *data, size_t len, uint32_t mode, const char *xname,
                         const uint8_t *xvalue, size_t xlen) {
  char rel[96];
  ots_object_rel(csum, ext, rel, sizeof rel);
  int fd = openat(j->stage_fd, rel, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0 && errno == ENOENT) {
    rel[2] = 0;
    if (mkdirat(j->stage_fd, rel, 0755) != 0 && errno != EEXIST) return sys_fail(j, errno, "mkdir", rel);
    rel[2] = '/';
    fd = openat(j->stage_fd, rel, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  }
  if (fd < 0) return errno == EEXIST ? 0 : sys_fail(j, errno, "open", rel);
  int err = ots_write_all(fd, data, len);
  const char *what = "write";
  if (err == 0 && xname != NULL && fsetxattr(fd, xname, xvalue, xlen, 0) != 0) err = errno, what = "fsetxattr";
  if (err == 0 && fchmod(fd, mode) != 0) err = errno, what = "fchmod";
  if (close(fd) != 0 && err == 0) err = errno, what = "close";
  if (err != 0) {
    unlinkat(j->stage_fd, rel, 0);
    return sys_fail(j, err, what, rel);
  }
  return 1;
}

static int note_staged(ExecJob *j, size_t index) {
  j->staged[j->nstaged++] = (uint32_t)index;
  return 0;
}

// Verify and create one object. Content: `target` (symlinks) or `data` (files).
static int store(ExecJob *j, size_t index, const uint8_t *data, size_t len, uint32_t modeidx, uint32_t xattridx, int from_s, size_t pc) {
  const uint8_t *obj = (const uint8_t *)j->objects.iov_base + 33 * index;
  const uint8_t *csum = obj + 1;
  char want[65];
  ots_hex(csum, want);
  if (obj[0] != T_FILE) {
    const char *ext = obj[0] == T_DIRTREE ? "dirtree" : obj[0] == T_DIRMETA ? "dirmeta" : obj[0] == T_COMMIT ? "commit" : NULL;
    if (ext == NULL) return fail(j, "ERR_BAD_FORMAT", (int64_t)pc, "Delta object %zu has unsupported type %u", index, obj[0]);
    struct iovec v = {(void *)data, len};
    sha256_hex(&v, 1, j->actual);
    if (memcmp(j->actual, want, 64) != 0) {
      memcpy(j->csum, want, 65);
      return fail(j, "ERR_CHECKSUM_MISMATCH", (int64_t)pc, "Corrupted %s object; checksum expected='%s' actual='%s'", ext, want, j->actual);
    }
    int r = create_object(j, csum, ext, data, len, 0644, NULL, NULL, 0);
    return r < 0 ? -1 : r == 1 ? note_staged(j, index) : 0;
  }
  const uint32_t *m = (const uint32_t *)j->modes.iov_base + 3 * (size_t)modeidx;
  const struct iovec *x = &j->xattrs[xattridx];
  int is_link = (m[2] & S_TYPE_MASK) == S_LINK;
  const uint8_t *target = from_s && is_link ? data : NULL;
  size_t tlen = target != NULL ? len : 0;
  if (target != NULL && (memchr(target, 0, tlen) != NULL || !ots_utf8_valid(target, tlen)))
    return fail(j, "ERR_BAD_FORMAT", (int64_t)pc, "Delta object %s has an invalid symlink target", want);
  size_t hlen = 0;
  uint8_t *header = ots_file_header(m[0], m[1], m[2], target, tlen, x, &hlen);
  if (header == NULL) return sys_fail(j, ENOMEM, "executePart", "");
  struct iovec parts[2] = {{header, hlen}, {(void *)data, is_link ? 0 : len}};
  sha256_hex(parts, 2, j->actual);
  free(header);
  if (memcmp(j->actual, want, 64) != 0) {
    memcpy(j->csum, want, 65);
    return fail(j, "ERR_CHECKSUM_MISMATCH", (int64_t)pc, "Corrupted file object; checksum expected='%s' actual='%s'", want, j->actual);
  }
  // bare-user: the payload (a symlink: its target and a NUL) in a file, the real
  // uid/gid/mode/xattrs in user.ostreemeta as a dirmeta (uuua(ayay)).
  size_t mlen = 12 + x->iov_len;
  uint8_t *meta = malloc(mlen);
  uint8_t *body = is_link ? malloc(tlen + 1) : NULL;
  if (meta == NULL || (is_link && body == NULL)) {
    free(meta);
    free(body);
    return sys_fail(j, ENOMEM, "executePart", "");
  }
  put_be32(meta, m[0]);
  put_be32(meta + 4, m[1]);
  put_be32(meta + 8, m[2]);
  if (x->iov_len > 0) memcpy(meta + 12, x->iov_base, x->iov_len);
  if (is_link) {
    if (tlen > 0) memcpy(body, target, tlen);
    body[tlen] = 0;
  }
  int r = create_object(j, csum, j->content_ext + 1, is_link ? body : data, is_link ? tlen + 1 : len, is_link ? 0644 : ((m[2] & 0775) | 0400),
                        "user.ostreemeta", meta, mlen);
  free(meta);
  free(body);
  return r < 0 ? -1 : r == 1 ? note_staged(j, index) : 0;
}

// A read source: the whole regular file of a content object, from the first
// directory that has it. NULL with *err (errno) and *syscall set on failure:
// reported only if the source is used (as execute.ts, which reads it lazily).
static uint8_t *read_source(ExecJob *j, const uint8_t *csum, size_t *len, int *err, const char **syscall) {
  char rel[96];
  ots_object_rel(csum, j->content_ext + 1, rel, sizeof rel);
  uint8_t *buf = NULL;
  *err = ENOENT;
  *syscall = "open";
  for (size_t i = 0; i < j->nsource && *err == ENOENT; i++) *err = ots_read_regular_at(j->source_fds[i], rel, UINT64_MAX, &buf, len, syscall);
  return *err == 0 ? buf : NULL;
}

// The failure of reading source `csum`, now that it is used.
static void source_failed(ExecJob *j, const uint8_t *csum, int err, const char *syscall) {
  char rel[96];
  if (err == ENOENT) {
    ots_hex(csum, j->csum);
    memcpy(j->actual, j->csum, 65);
    fail(j, "ERR_OBJECT_NOT_FOUND", -1, "No such content object %s (a read source of the delta)", j->csum);
    return;
  }
  ots_object_rel(csum, j->content_ext + 1, rel, sizeof rel);
  sys_fail(j, err, syscall, rel);
}

static void exec_run(ExecJob *j) {
  const uint8_t *ops = j->ops.iov_base;
  size_t nobj = j->objects.iov_len / 33, nmodes = j->modes.iov_len / 12, pc = 0, cursor = 0;
  const uint8_t *skip = j->skip.iov_base;
  // The object being built by o/w/r/B/c, and the current read source.
  int open = 0, open_skip = 0;
  size_t open_index = 0;  // the object 'o' opened (an 'S' in between moves the cursor on)
  uint32_t open_mode = 0, open_xattr = 0;
  uint64_t open_size = 0, have = 0;
  uint8_t *buf = NULL, *src = NULL;
  size_t srclen = 0;
  int has_src = 0;
  // A source that could not be read: its error, raised when it is used.
  int src_err = 0;
  const char *src_syscall = NULL;
  uint8_t src_csum[32];
#define CURRENT()                                                                                                                           \
  do {                                                                                                                                      \
    if (cursor >= nobj) {                                                                                                                   \
      fail(j, "ERR_BAD_FORMAT", (int64_t)pc, "Delta op at %zu refers to object %zu, but the part lists %zu", pc, cursor, nobj);             \
      goto out;                                                                                                                             \
    }                                                                                                                                       \
  } while (0)
#define NEXT(v)                                                                                                                             \
  do {                                                                                                                                      \
    if (varint(j, &pc, &(v)) != 0) goto out;                                                                                                \
  } while (0)
#define META(mi, xi)                                                                                                                        \
  do {                                                                                                                                      \
    if ((mi) >= nmodes || (xi) >= j->nxattrs) {                                                                                             \
      fail(j, "ERR_BAD_FORMAT", (int64_t)pc, "Invalid mode/xattr index %llu/%llu", (unsigned long long)(mi), (unsigned long long)(xi));     \
      goto out;                                                                                                                             \
    }                                                                                                                                       \
  } while (0)
  while (pc < j->ops.iov_len) {
    uint8_t op = ops[pc++];
    switch (op) {
      case 'S': {
        CURRENT();
        const uint8_t *obj = (const uint8_t *)j->objects.iov_base + 33 * cursor;
        uint64_t mi = 0, xi = 0, size = 0, offset = 0;
        if (obj[0] != T_FILE) {
          NEXT(size);
          NEXT(offset);
          const uint8_t *d = slice(j, offset, size, "metadata object", pc);
          if (d == NULL) goto out;
          if (!skip[cursor] && store(j, cursor, d, (size_t)size, 0, 0, 1, pc) != 0) goto out;
        } else {
          NEXT(mi);
          NEXT(xi);
          META(mi, xi);
          NEXT(size);
          NEXT(offset);
          const uint8_t *d = slice(j, offset, size, "file", pc);
          if (d == NULL) goto out;
          if (!skip[cursor] && store(j, cursor, d, (size_t)size, (uint32_t)mi, (uint32_t)xi, 1, pc) != 0) goto out;
        }
        cursor++;
        j->written++;
        break;
      }
      case 'o': {
        CURRENT();
        const uint8_t *obj = (const uint8_t *)j->objects.iov_base + 33 * cursor;
        if (obj[0] != T_FILE) {
          fail(j, "ERR_BAD_FORMAT", (int64_t)pc, "'o' on a non-file object at %zu", pc);
          goto out;
        }
        uint64_t mi = 0, xi = 0, size = 0;
        NEXT(mi);
        NEXT(xi);
        META(mi, xi);
        NEXT(size);
        if (size > j->max_object) {
          fail(j, "ERR_TOO_LARGE", (int64_t)pc, "Delta object of %llu bytes exceeds %llu", (unsigned long long)size, (unsigned long long)j->max_object);
          goto out;
        }
        free(buf);
        buf = NULL;
        open = 1;
        open_index = cursor;
        open_skip = skip[cursor];
        open_mode = (uint32_t)mi;
        open_xattr = (uint32_t)xi;
        open_size = size;
        have = 0;
        if (!open_skip && (buf = malloc(size > 0 ? (size_t)size : 1)) == NULL) {
          sys_fail(j, ENOMEM, "executePart", "");
          goto out;
        }
        break;
      }
      case 'w': {
        uint64_t size = 0, offset = 0;
        NEXT(size);
        NEXT(offset);
        if (!open) {
          fail(j, "ERR_BAD_FORMAT", (int64_t)pc, "'w' with no open object");
          goto out;
        }
        if (size > open_size - have) {
          fail(j, "ERR_BAD_FORMAT", (int64_t)pc, "Writes exceed the declared size %llu", (unsigned long long)open_size);
          goto out;
        }
        if (has_src) {
          if (!open_skip && src_err != 0) {
            source_failed(j, src_csum, src_err, src_syscall);
            goto out;
          }
          if (!open_skip) {
            if (offset > srclen || size > srclen - offset) {
              fail(j, "ERR_BAD_FORMAT", (int64_t)offset, "Invalid offset/length %llu/%llu for read source (source is %zu bytes)", (unsigned long long)offset,
                   (unsigned long long)size, srclen);
              goto out;
            }
            if (size > 0) memcpy(buf + have, src + offset, (size_t)size);
          }
        } else {
          const uint8_t *d = slice(j, offset, size, "write", pc);
          if (d == NULL) goto out;
          if (!open_skip && size > 0) memcpy(buf + have, d, (size_t)size);
        }
        have += size;
        break;
      }
      case 'r': {
        uint64_t offset = 0;
        NEXT(offset);
        const uint8_t *c = slice(j, offset, 32, "read source checksum", pc);
        if (c == NULL) goto out;
        free(src);
        src = NULL;
        srclen = 0;
        has_src = 1;
        src_err = 0;
        if (open && open_skip) break;
        memcpy(src_csum, c, 32);
        src = read_source(j, c, &srclen, &src_err, &src_syscall);
        break;
      }
      case 'R':
        free(src);
        src = NULL;
        srclen = 0;
        has_src = 0;
        src_err = 0;
        break;
      case 'B': {
        uint64_t offset = 0, length = 0;
        NEXT(offset);
        NEXT(length);
        if (!open) {
          fail(j, "ERR_BAD_FORMAT", (int64_t)pc, "'B' with no open object");
          goto out;
        }
        const uint8_t *patch = slice(j, offset, length, "bsdiff patch", pc);
        if (patch == NULL) goto out;
        if (!open_skip) {
          if (!has_src) {
            fail(j, "ERR_BAD_FORMAT", (int64_t)pc, "'B' with no read source");
            goto out;
          }
          if (src_err != 0) {
            source_failed(j, src_csum, src_err, src_syscall);
            goto out;
          }
          const char *why = ots_bspatch_apply(src, srclen, patch, (size_t)length, buf, (size_t)open_size);
          if (why != NULL) {
            fail(j, "ERR_BAD_FORMAT", (int64_t)pc, "Corrupt bsdiff patch: %s", why);
            goto out;
          }
        }
        have = open_size;
        break;
      }
      case 'c': {
        if (!open) {
          fail(j, "ERR_BAD_FORMAT", (int64_t)pc, "'c' with no open object");
          goto out;
        }
        if (!open_skip) {
          char want[65];
          ots_hex((const uint8_t *)j->objects.iov_base + 33 * open_index + 1, want);
          if (have != open_size) {
            fail(j, "ERR_BAD_FORMAT", (int64_t)pc, "Object %s got %llu of %llu bytes", want, (unsigned long long)have, (unsigned long long)open_size);
            goto out;
          }
          if (store(j, open_index, buf, (size_t)open_size, open_mode, open_xattr, 0, pc) != 0) goto out;
        }
        free(buf);
        buf = NULL;
        free(src);
        src = NULL;
        srclen = 0;
        has_src = 0;
        src_err = 0;
        open = 0;
        cursor++;
        j->written++;
        break;
      }
      default:
        fail(j, "ERR_BAD_FORMAT", (int64_t)(pc - 1), "Unknown delta opcode %u at offset %zu", op, pc - 1);
        goto out;
    }
  }
  if (open) fail(j, "ERR_BAD_FORMAT", (int64_t)pc, "Delta part ends with an open object");
  else if (cursor != nobj) fail(j, "ERR_BAD_FORMAT", (int64_t)pc, "Delta part wrote %zu of %zu objects", cursor, nobj);
out:
  free(buf);
  free(src);
#undef CURRENT
#undef NEXT
#undef META
}

static void exec_execute(napi_env env, void *data) {
  (void)env;
  exec_run(data);
}

static void exec_free(napi_env env, ExecJob *j) {
  for (size_t i = 0; i < 5; i++)
    if (j->refs[i] != NULL) napi_delete_reference(env, j->refs[i]);
  for (size_t i = 0; i < j->nxattrs; i++)
    if (j->xattr_refs != NULL && j->xattr_refs[i] != NULL) napi_delete_reference(env, j->xattr_refs[i]);
  if (j->stage_fd >= 0) close(j->stage_fd);
  for (size_t i = 0; i < j->nsource; i++) close(j->source_fds[i]);
  free(j->xattrs);
  free(j->xattr_refs);
  free(j->staged);
  free(j);
}

static void exec_complete(napi_env env, napi_status status, void *data) {
  (void)status;
  ExecJob *j = data;
  napi_value result, v, list;
  napi_create_object(env, &result);
  napi_create_double(env, (double)j->written, &v);
  napi_set_named_property(env, result, "written", v);
  napi_create_array_with_length(env, j->nstaged, &list);
  for (size_t i = 0; i < j->nstaged; i++) {
    napi_create_uint32(env, j->staged[i], &v);
    napi_set_element(env, list, (uint32_t)i, v);
  }
  napi_set_named_property(env, result, "staged", list);
  if (j->code != NULL) {
    napi_value code, msg, e;
    napi_create_string_utf8(env, j->code, NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, j->msg, NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, code, msg, &e);
    napi_create_int64(env, j->offset, &v);
    napi_set_named_property(env, e, "offset", v);
    if (j->csum[0] != 0) {
      napi_create_string_utf8(env, j->csum, 64, &v);
      napi_set_named_property(env, e, "checksum", v);
      napi_create_string_utf8(env, j->actual, 64, &v);
      napi_set_named_property(env, e, "actual", v);
    }
    napi_set_named_property(env, result, "error", e);
  } else if (j->err != 0) {
    napi_set_named_property(env, result, "error", ots_errno_error(env, j->err, j->syscall, j->path));
  }
  napi_resolve_deferred(env, j->deferred, result);
  napi_delete_async_work(env, j->work);
  exec_free(env, j);
}

static bool bytes_prop(napi_env env, napi_value obj, const char *name, struct iovec *out, napi_ref *ref) {
  napi_value v;
  bool is_ta = false;
  napi_typedarray_type t;
  size_t n = 0, off = 0;
  napi_value ab;
  void *base = NULL;
  if (napi_get_named_property(env, obj, name, &v) != napi_ok || napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta
      || napi_get_typedarray_info(env, v, &t, &n, &base, &ab, &off) != napi_ok)
    return false;
  size_t el = t == napi_uint8_array ? 1 : t == napi_uint32_array ? 4 : 0;
  if (el == 0) return false;
  out->iov_base = base != NULL ? base : (void *)"";
  out->iov_len = n * el;
  return napi_create_reference(env, v, 1, ref) == napi_ok;
}

napi_value ots_js_execute_part(napi_env env, napi_callback_info info) {
  napi_value argv[1], v, dirs;
  const char *usage =
      "executePart({stagingDir, sourceDirs, contentExt, payload, ops, modes: Uint32Array, xattrs: Uint8Array[], objects, skip, maxObjectSize})";
  if (!ots_get_args(env, info, 1, argv, usage)) return NULL;
  ExecJob *j = ots_calloc(env, sizeof *j);
  if (j == NULL) return NULL;
  j->stage_fd = -1;
  uint32_t nx = 0, nd = 0;
  double max = 0;
  size_t extlen = 0;
  char *stage = NULL, *dir[2] = {NULL, NULL};
  bool ok = bytes_prop(env, argv[0], "payload", &j->payload, &j->refs[0]) && bytes_prop(env, argv[0], "ops", &j->ops, &j->refs[1])
            && bytes_prop(env, argv[0], "objects", &j->objects, &j->refs[2]) && bytes_prop(env, argv[0], "skip", &j->skip, &j->refs[3])
            && bytes_prop(env, argv[0], "modes", &j->modes, &j->refs[4]) && j->objects.iov_len % 33 == 0
            && j->skip.iov_len == j->objects.iov_len / 33 && j->modes.iov_len % 12 == 0
            && napi_get_named_property(env, argv[0], "maxObjectSize", &v) == napi_ok && napi_get_value_double(env, v, &max) == napi_ok && max >= 0
            && napi_get_named_property(env, argv[0], "contentExt", &v) == napi_ok
            && napi_get_value_string_utf8(env, v, j->content_ext, sizeof j->content_ext, &extlen) == napi_ok && extlen > 1 && j->content_ext[0] == '.'
            && napi_get_named_property(env, argv[0], "stagingDir", &v) == napi_ok && (stage = ots_get_string(env, v, NULL)) != NULL
            && napi_get_named_property(env, argv[0], "sourceDirs", &dirs) == napi_ok && napi_get_array_length(env, dirs, &nd) == napi_ok && nd <= 2
            && napi_get_named_property(env, argv[0], "xattrs", &v) == napi_ok && napi_get_array_length(env, v, &nx) == napi_ok
            && (j->xattrs = calloc(nx + 1, sizeof *j->xattrs)) != NULL && (j->xattr_refs = calloc(nx + 1, sizeof *j->xattr_refs)) != NULL
            && (j->staged = calloc(j->objects.iov_len / 33 + 1, sizeof *j->staged)) != NULL;
  j->max_object = (uint64_t)max;
  for (uint32_t i = 0; ok && i < nx; i++) {
    napi_value x;
    ok = napi_get_element(env, v, i, &x) == napi_ok && ots_get_bytes_sync(env, x, &j->xattrs[i])
         && napi_create_reference(env, x, 1, &j->xattr_refs[i]) == napi_ok;
    j->nxattrs = i + 1;
  }
  for (uint32_t i = 0; ok && i < nd; i++) {
    napi_value d;
    ok = napi_get_element(env, dirs, i, &d) == napi_ok && (dir[i] = ots_get_string(env, d, NULL)) != NULL;
  }
  if (!ok) {
    free(stage);
    free(dir[0]);
    free(dir[1]);
    exec_free(env, j);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
    return NULL;
  }
  const char *bad = NULL;
  if ((j->stage_fd = open(stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) bad = stage;
  for (uint32_t i = 0; bad == NULL && i < nd; i++) {
    int fd = open(dir[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) bad = dir[i];
    else j->source_fds[j->nsource++] = fd;
  }
  if (bad != NULL) napi_throw(env, ots_errno_error(env, errno, "open", bad));
  free(stage);
  free(dir[0]);
  free(dir[1]);
  if (bad != NULL) {
    exec_free(env, j);
    return NULL;
  }
  return ots_queue_job(env, "ots_execute_part", exec_execute, exec_complete, j, &j->deferred, &j->work);
}
