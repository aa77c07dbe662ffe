// ots_sys: the few Linux system calls that Node does not bind and that an
// OSTree implementation needs on its hot paths. Everything here is a thin
// wrapper; decisions (what to create, what an error means) stay in TypeScript.
//
//   syncfs(path) -> Promise<void>
//     syncfs(2) on the filesystem holding `path` (ostree syncs a transaction
//     with one syncfs instead of one fsync per object; spawning `sync -f`
//     costs a fork + exec).
//
//   lock(fd, kind) -> boolean
//     A non-blocking whole-file lock on an open file, kind 0 unlock, 1 shared,
//     2 exclusive: an open file description (OFD) lock as ostree takes on a
//     repository's .lock, flock(2) where OFD locks are unsupported (as ostree
//     falls back). false when another holder conflicts.
//
//   writeNew(path, chunks, {mode, xattrs, uid, gid}) -> Promise<void>
//     Create a new file (O_EXCL, never through a symlink) at 0600 with the
//     chunks' bytes, set its xattrs, chown it (when uid >= 0), then chmod it to
//     `mode` — last, so setuid bits only ever appear on complete content. One
//     thread-pool job instead of five round trips; a failure removes the file.
//     Thread-pool threads that run writeNew/inflateVerify jobs are switched to
//     SCHED_BATCH, so that they never preempt the main thread (write_execute).
//
//   inflateVerify(path, header, compressed, size, expected, {chunks, mode, xattrs, uid, gid}) -> Promise<void>
//     A content object as served (archive form) checked and stored in one
//     thread-pool job, off the main thread: inflate the raw-deflate payload to
//     exactly `size` bytes (no more, no trailing input), SHA-256 over `header`
//     (the canonical file header) then the payload, compare with `expected`
//     (hex). Then, as writeNew, create `path` with `chunks` — or, when chunks
//     is absent, with the payload itself, written while it is inflated (bare
//     modes). Rejects with code ERR_CHECKSUM_MISMATCH (and `actual`),
//     ERR_SIZE_MISMATCH (and `produced`) or ERR_BAD_FORMAT; a failure never
//     leaves the file. zlib and OpenSSL are the ones Node itself links and exports.
//
//   lxattrs(path) -> {name, value}[];  lsetxattr(path, name, value)
//     A symlink's own extended attributes (llistxattr/lgetxattr/lsetxattr),
//     which ostree commits and checks out (e.g. security.selinux on links).
//     Synchronous: microseconds, on paths the caller already walks.
//
//   planOpen(objectsDir) -> handle; planPush(handle, chunk); planFinish(handle, abort) -> Promise<result>
//     A checkout plan: mkdir/link/chmod operations computed by TypeScript,
//     executed in order on one native thread while the main thread keeps
//     reading dirtrees. Links are linkat(objects dirfd, "xx/rest.file",
//     current dirfd, name), as ostree does. Operations, NUL-separated fields:
//       C path            open an existing directory as the current one
//       D path            mkdir(path, 0700) and open it as the current one
//       L src name        linkat; EXDEV/EMLINK are reported back (copy instead)
//       S target name     symlinkat in the current directory
//       M path mode uid gid   chown (unless uid is -1), then chmod
//     The first other failure stops the plan; the result names the op and path.
#define _GNU_SOURCE
#include "ots_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <openssl/evp.h>

char *ots_get_string(napi_env env, napi_value v, size_t *len_out) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *buf = malloc(len + 1);
  if (buf == NULL) return NULL;
  if (napi_get_value_string_utf8(env, v, buf, len + 1, &len) != napi_ok) {
    free(buf);
    return NULL;
  }
  if (len_out != NULL) *len_out = len;
  return buf;
}

napi_value ots_errno_error(napi_env env, int err, const char *syscall, const char *path) {
  napi_value code, msg, error, num, sys, p;
  const char *name = strerror(err);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &msg);
  napi_create_string_utf8(env, "ERR_NATIVE_SYSCALL", NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, msg, &error);
  napi_create_int32(env, -err, &num);
  napi_set_named_property(env, error, "errno", num);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sys);
  napi_set_named_property(env, error, "syscall", sys);
  if (path != NULL) {
    napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &p);
    napi_set_named_property(env, error, "path", p);
  }
  return error;
}

// Queue `data` as a thread-pool job; the promise its complete callback settles through *deferred.
napi_value ots_queue_job(napi_env env, const char *name, napi_async_execute_callback execute, napi_async_complete_callback complete,
                            void *data, napi_deferred *deferred, napi_async_work *work) {
  napi_value promise, resource_name;
  CHECK(napi_create_promise(env, deferred, &promise));
  CHECK(napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name));
  CHECK(napi_create_async_work(env, NULL, resource_name, execute, complete, data, work));
  CHECK(napi_queue_async_work(env, *work));
  return promise;
}

// ---- syncfs ---------------------------------------------------------------

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  char *path;
  int err;
} SyncfsJob;

static void syncfs_execute(napi_env env, void *data) {
  (void)env;
  SyncfsJob *job = data;
  int fd = open(job->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    job->err = errno;
    return;
  }
  if (syncfs(fd) != 0) job->err = errno;
  close(fd);
}

static void syncfs_complete(napi_env env, napi_status status, void *data) {
  SyncfsJob *job = data;
  if (status == napi_ok && job->err == 0) {
    napi_value undef;
    napi_get_undefined(env, &undef);
    napi_resolve_deferred(env, job->deferred, undef);
  } else {
    napi_reject_deferred(env, job->deferred, ots_errno_error(env, job->err != 0 ? job->err : EIO, "syncfs", job->path));
  }
  napi_delete_async_work(env, job->work);
  free(job->path);
  free(job);
}

static napi_value js_syncfs(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  SyncfsJob *job = calloc(1, sizeof *job);
  if (job == NULL || (job->path = ots_get_string(env, argv[0], NULL)) == NULL) {
    free(job);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "syncfs(path): path must be a string");
    return NULL;
  }
  return ots_queue_job(env, "ots_syncfs", syncfs_execute, syncfs_complete, job, &job->deferred, &job->work);
}

// ---- readRegular: a whole regular file in one job -------------------------

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  char *path;
  double max;
  uint8_t *buf;
  size_t len;
  int err;
  const char *failed;
} ReadJob;

int ots_read_regular_at(int dirfd, const char *path, uint64_t max, uint8_t **out, size_t *len, const char **failed) {
  // O_NOFOLLOW | O_NONBLOCK: a symlink or a FIFO planted in objects/ is refused, never followed or waited on.
  int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  struct stat st;
  int err = 0;
  uint8_t *buf = NULL;
  size_t got = 0;
  *failed = "open";
  if (fd < 0) return errno;
  if (fstat(fd, &st) != 0) err = errno, *failed = "fstat";
  else if (!S_ISREG(st.st_mode)) err = EINVAL, *failed = "open (not a regular file)";
  else if ((uint64_t)st.st_size > max) err = EFBIG, *failed = "read";
  else if ((buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1)) == NULL) err = ENOMEM, *failed = "read";
  while (err == 0 && got < (size_t)st.st_size) {
    ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) err = r < 0 ? errno : EIO, *failed = "read";  // EIO: it shrank while being read
    else got += (size_t)r;
  }
  close(fd);
  if (err != 0) {
    free(buf);
    return err;
  }
  *out = buf;
  *len = got;
  return 0;
}

static void read_execute(napi_env env, void *data) {
  (void)env;
  ReadJob *j = data;
  j->err = ots_read_regular_at(AT_FDCWD, j->path, j->max >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)j->max, &j->buf, &j->len, &j->failed);
}

static void free_buffer(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

bool ots_take_buffer(napi_env env, uint8_t **p, size_t len, napi_value *out) {
  void *unused;
  if (napi_create_external_buffer(env, len, *p, free_buffer, NULL, out) == napi_ok) {
    *p = NULL;
    return true;
  }
  return napi_create_buffer_copy(env, len, len > 0 ? *p : (const void *)"", &unused, out) == napi_ok;
}

static void read_complete(napi_env env, napi_status status, void *data) {
  ReadJob *j = data;
  napi_value buf;
  if (status == napi_ok && j->err == 0 && ots_take_buffer(env, &j->buf, j->len, &buf)) {
    napi_resolve_deferred(env, j->deferred, buf);
  } else {
    napi_reject_deferred(env, j->deferred, ots_errno_error(env, j->err != 0 ? j->err : EIO, j->failed != NULL ? j->failed : "read", j->path));
  }
  napi_delete_async_work(env, j->work);
  free(j->buf);
  free(j->path);
  free(j);
}

static napi_value js_read_regular(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  const char *usage = "readRegular(path, maxSize: number)";
  if (!ots_get_args(env, info, 2, argv, usage)) return NULL;
  ReadJob *j = ots_calloc(env, sizeof *j);
  if (j == NULL) return NULL;
  if ((j->path = ots_get_string(env, argv[0], NULL)) == NULL || napi_get_value_double(env, argv[1], &j->max) != napi_ok) {
    free(j->path);
    free(j);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
    return NULL;
  }
  return ots_queue_job(env, "ots_read_regular", read_execute, read_complete, j, &j->deferred, &j->work);
}

// ---- renameObjects: a transaction's staged objects into objects/ ------------

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  int from_fd, to_fd;
  char **rels;
  size_t nrels;
  int no_replace, keep_dirs;
  size_t renamed, kept;
  int err;
  const char *failed;
  char path[96];
} RenameJob;

static void rename_execute(napi_env env, void *data) {
  (void)env;
  RenameJob *j = data;
  for (size_t i = 0; i < j->nrels && j->err == 0; i++) {
    const char *rel = j->rels[i];
    unsigned flags = j->no_replace ? RENAME_NOREPLACE : 0;
    int r = renameat2(j->from_fd, rel, j->to_fd, rel, flags);
    if (r != 0 && errno == ENOENT && strlen(rel) > 3 && rel[2] == '/') {
      // objects/xx/ may not exist yet.
      char dir[3] = {rel[0], rel[1], 0};
      if (mkdirat(j->to_fd, dir, 0755) == 0 || errno == EEXIST) r = renameat2(j->from_fd, rel, j->to_fd, rel, flags);
    }
    if (r == 0) {
      j->renamed++;
    } else if (errno == EEXIST && j->no_replace) {
      // Another writer stored it meanwhile: theirs stays (checkouts may share its inode).
      if (unlinkat(j->from_fd, rel, 0) != 0) j->err = errno, j->failed = "unlink";
      else j->kept++;
    } else {
      j->err = errno;
      j->failed = "rename";
    }
    if (j->err != 0) snprintf(j->path, sizeof j->path, "%s", rel);
  }
  // The staging directory's xx/ subdirectories are empty now (unless others still write there).
  for (size_t i = 0; i < j->nrels && j->err == 0 && !j->keep_dirs; i++) {
    char dir[3] = {j->rels[i][0], j->rels[i][1], 0};
    if (i > 0 && strncmp(j->rels[i - 1], dir, 2) == 0) continue;
    unlinkat(j->from_fd, dir, AT_REMOVEDIR);  // best effort: ENOTEMPTY when other objects stay
  }
}

static void rename_complete(napi_env env, napi_status status, void *data) {
  RenameJob *j = data;
  napi_value result, v;
  napi_create_object(env, &result);
  napi_create_double(env, (double)j->renamed, &v);
  napi_set_named_property(env, result, "renamed", v);
  napi_create_double(env, (double)j->kept, &v);
  napi_set_named_property(env, result, "kept", v);
  if (status != napi_ok || j->err != 0)
    napi_set_named_property(env, result, "error", ots_errno_error(env, j->err != 0 ? j->err : EIO, j->failed != NULL ? j->failed : "rename", j->path));
  napi_resolve_deferred(env, j->deferred, result);
  napi_delete_async_work(env, j->work);
  for (size_t i = 0; i < j->nrels; i++) free(j->rels[i]);
  free(j->rels);
  close(j->from_fd);
  close(j->to_fd);
  free(j);
}

static napi_value js_rename_objects(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  const char *usage = "renameObjects(fromDir, toDir, rels: string[] (xx/rest.ext, sorted), noReplace: boolean, keepDirs: boolean)";
  if (!ots_get_args(env, info, 5, argv, usage)) return NULL;
  RenameJob *j = ots_calloc(env, sizeof *j);
  if (j == NULL) return NULL;
  j->from_fd = j->to_fd = -1;
  uint32_t n = 0;
  bool no_replace = false, ok = napi_get_array_length(env, argv[2], &n) == napi_ok && napi_get_value_bool(env, argv[3], &no_replace) == napi_ok
                             && (j->rels = calloc(n + 1, sizeof *j->rels)) != NULL;
  for (uint32_t i = 0; ok && i < n; i++) {
    napi_value r;
    ok = napi_get_element(env, argv[2], i, &r) == napi_ok && (j->rels[i] = ots_get_string(env, r, NULL)) != NULL && strlen(j->rels[i]) < 90
         && j->rels[i][0] != '/' && strstr(j->rels[i], "..") == NULL;
    j->nrels = i + 1;
  }
  j->no_replace = no_replace;
  bool keep_dirs = false;
  ok = ok && napi_get_value_bool(env, argv[4], &keep_dirs) == napi_ok;
  j->keep_dirs = keep_dirs;
  char *from = ok ? ots_get_string(env, argv[0], NULL) : NULL, *to = ok ? ots_get_string(env, argv[1], NULL) : NULL;
  const char *bad = NULL;
  if (ok && from != NULL && to != NULL) {
    if ((j->from_fd = open(from, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) bad = from;
    else if ((j->to_fd = open(to, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) bad = to;
    if (bad != NULL) napi_throw(env, ots_errno_error(env, errno, "open", bad));
  } else {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
  }
  free(from);
  free(to);
  if (!ok || bad != NULL || j->from_fd < 0 || j->to_fd < 0) {
    for (size_t i = 0; i < j->nrels; i++) free(j->rels[i]);
    free(j->rels);
    if (j->from_fd >= 0) close(j->from_fd);
    if (j->to_fd >= 0) close(j->to_fd);
    free(j);
    return NULL;
  }
  return ots_queue_job(env, "ots_rename_objects", rename_execute, rename_complete, j, &j->deferred, &j->work);
}

// ---- locks ------------------------------------------------------------------

static napi_value js_lock(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  int32_t fd = -1, kind = -1;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int32(env, argv[1], &kind) != napi_ok
      || fd < 0 || kind < 0 || kind > 2) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "lock(fd, kind): fd >= 0, kind 0 (unlock), 1 (shared) or 2 (exclusive)");
    return NULL;
  }
  struct flock fl = {.l_type = kind == 2 ? F_WRLCK : kind == 1 ? F_RDLCK : F_UNLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
  int r;
  do r = fcntl(fd, F_OFD_SETLK, &fl); while (r < 0 && errno == EINTR);
  if (r < 0 && errno == EINVAL) {
    int op = (kind == 2 ? LOCK_EX : kind == 1 ? LOCK_SH : LOCK_UN) | LOCK_NB;
    do r = flock(fd, op); while (r < 0 && errno == EINTR);
  }
  if (r < 0 && errno != EAGAIN && errno != EACCES && errno != EWOULDBLOCK) {
    napi_throw(env, ots_errno_error(env, errno, "fcntl", NULL));
    return NULL;
  }
  CHECK(napi_get_boolean(env, r == 0, &result));
  return result;
}

// ---- writeNew ---------------------------------------------------------------

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  char *path;
  size_t nchunks;
  struct iovec *chunks;
  napi_ref *chunk_refs;
  size_t nxattrs;
  char **xattr_names;
  struct iovec *xattr_values;
  napi_ref *xattr_refs;
  int32_t mode, uid, gid;
  int err;
  const char *failed;
  // inflateVerify / writeVerified only
  enum { VERIFY_NONE, VERIFY_INFLATE, VERIFY_RAW } verify;
  struct iovec header, compressed;
  napi_ref header_ref, compressed_ref;
  uint64_t size, produced;
  char expected[65], actual[65];
  const char *vcode;   // ERR_CHECKSUM_MISMATCH | ERR_SIZE_MISMATCH | ERR_BAD_FORMAT
  const char *vmsg;
} WriteJob;

int ots_write_all(int fd, const void *data, size_t left) {
  const uint8_t *p = data;
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return EIO;
    p += n;
    left -= (size_t)n;
  }
  return 0;
}

// Inflate + hash (+ write the payload to fd when fd >= 0). Sets j->vcode or j->err.
static void inflate_verify(WriteJob *j, int fd) {
  static const char hex[] = "0123456789abcdef";
  unsigned char out[65536], md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 || inflateInit2(&zs, -15) != Z_OK) {
    j->err = ENOMEM;
    j->failed = "inflateVerify";
    if (ctx != NULL) EVP_MD_CTX_free(ctx);
    return;
  }
  EVP_DigestUpdate(ctx, j->header.iov_base, j->header.iov_len);
  int ended = j->compressed.iov_len == 0;  // an empty payload has no deflate stream at all
  zs.next_in = j->compressed.iov_base;
  zs.avail_in = (uInt)j->compressed.iov_len;
  while (!ended && j->err == 0 && j->vcode == NULL) {
    zs.next_out = out;
    zs.avail_out = sizeof out;
    int r = inflate(&zs, Z_NO_FLUSH);
    size_t got = sizeof out - zs.avail_out;
    if (r != Z_OK && r != Z_STREAM_END && !(r == Z_BUF_ERROR && got > 0)) {
      j->vcode = "ERR_BAD_FORMAT";
      j->vmsg = r == Z_BUF_ERROR ? "unexpected end of the compressed payload" : "invalid compressed payload";
      break;
    }
    j->produced += got;
    if (j->produced > j->size) {
      j->vcode = "ERR_SIZE_MISMATCH";
      j->vmsg = "payload is larger than declared";
      break;
    }
    EVP_DigestUpdate(ctx, out, got);
    if (fd >= 0 && got > 0 && (j->err = ots_write_all(fd, out, got)) != 0) j->failed = "write";
    if (r == Z_STREAM_END) ended = 1;
    else if (got == 0 && zs.avail_in == 0) {
      j->vcode = "ERR_BAD_FORMAT";
      j->vmsg = "unexpected end of the compressed payload";
    }
  }
  if (j->err == 0 && j->vcode == NULL && zs.avail_in != 0) {
    j->vcode = "ERR_BAD_FORMAT";
    j->vmsg = "trailing data after the compressed payload";
  }
  if (j->err == 0 && j->vcode == NULL && j->produced != j->size) {
    j->vcode = "ERR_SIZE_MISMATCH";
    j->vmsg = "payload is shorter than declared";
  }
  inflateEnd(&zs);
  EVP_DigestFinal_ex(ctx, md, &mdlen);
  EVP_MD_CTX_free(ctx);
  for (unsigned int i = 0; i < mdlen && i < 32; i++) {
    j->actual[2 * i] = hex[md[i] >> 4];
    j->actual[2 * i + 1] = hex[md[i] & 15];
  }
  j->actual[64] = 0;
  if (j->err == 0 && j->vcode == NULL && memcmp(j->actual, j->expected, 64) != 0) {
    j->vcode = "ERR_CHECKSUM_MISMATCH";
    j->vmsg = "checksum mismatch";
  }
}

// writeVerified: SHA-256 of the header then the raw payload must equal the expected checksum.
static void raw_verify(WriteJob *j) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
    j->err = ENOMEM;
    j->failed = "writeVerified";
    if (ctx != NULL) EVP_MD_CTX_free(ctx);
    return;
  }
  EVP_DigestUpdate(ctx, j->header.iov_base, j->header.iov_len);
  EVP_DigestUpdate(ctx, j->compressed.iov_base, j->compressed.iov_len);
  EVP_DigestFinal_ex(ctx, md, &mdlen);
  EVP_MD_CTX_free(ctx);
  ots_hex(md, j->actual);
  j->produced = j->compressed.iov_len;
  if (memcmp(j->actual, j->expected, 64) != 0) {
    j->vcode = "ERR_CHECKSUM_MISMATCH";
    j->vmsg = "checksum mismatch";
  }
}

// A thread-pool thread that runs write jobs becomes SCHED_BATCH (allowed
// unprivileged): a job woken on a busy 2-core machine then no longer preempts
// the main thread, which feeds every job (HTTP, parsing). Measured on the
// Debian pull into bare-user: 1.83 s instead of 1.99 s (medians of 4); the
// main thread lost ~85 us per queued job to such preemptions.
static __thread int batch_policy_set;

static void write_execute(napi_env env, void *data) {
  (void)env;
  WriteJob *j = data;
  if (!batch_policy_set) {
    struct sched_param sp = {0};
    sched_setscheduler(0, SCHED_BATCH, &sp);  // best effort: a failure changes nothing else
    batch_policy_set = 1;
  }
  // Given chunks: verify before creating anything. No chunks: the payload is the content.
  if (j->verify == VERIFY_RAW) {
    raw_verify(j);
    if (j->err != 0 || j->vcode != NULL) return;
  } else if (j->verify && j->nchunks > 0) {
    inflate_verify(j, -1);
    if (j->err != 0 || j->vcode != NULL) return;
  }
  int fd = open(j->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    j->err = errno;
    j->failed = "open";
    return;
  }
  if (j->verify == VERIFY_INFLATE && j->nchunks == 0) inflate_verify(j, fd);
  for (size_t i = 0; i < j->nchunks && j->err == 0; i++) {
    const char *p = j->chunks[i].iov_base;
    size_t left = j->chunks[i].iov_len;
    while (left > 0) {
      ssize_t n = write(fd, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        j->err = errno;
        j->failed = "write";
        break;
      }
      p += n;
      left -= (size_t)n;
    }
  }
  for (size_t i = 0; i < j->nxattrs && j->err == 0; i++) {
    if (fsetxattr(fd, j->xattr_names[i], j->xattr_values[i].iov_base, j->xattr_values[i].iov_len, 0) != 0) {
      j->err = errno;
      j->failed = "fsetxattr";
    }
  }
  if (j->vcode != NULL) j->err = EINVAL;  // stops here; the file is removed below
  if (j->err == 0 && j->uid >= 0 && fchown(fd, (uid_t)j->uid, (gid_t)j->gid) != 0) {
    j->err = errno;
    j->failed = "fchown";
  }
  if (j->err == 0 && fchmod(fd, (mode_t)j->mode) != 0) {
    j->err = errno;
    j->failed = "fchmod";
  }
  if (close(fd) != 0 && j->err == 0) {
    j->err = errno;
    j->failed = "close";
  }
  if (j->err != 0) unlink(j->path);
}

static void write_execute(napi_env env, void *data);

int ots_stage_filez(const char *path, const struct iovec *header, const struct iovec *compressed, uint64_t size, const char *expected,
                    struct iovec *chunks, size_t nchunks, int mode, const char *xname, const struct iovec *xvalue) {
  WriteJob j;
  memset(&j, 0, sizeof j);
  char *name = (char *)xname;
  struct iovec value = xvalue != NULL ? *xvalue : (struct iovec){NULL, 0};
  j.path = (char *)path;
  j.chunks = chunks;
  j.nchunks = nchunks;
  j.nxattrs = xname != NULL ? 1 : 0;
  j.xattr_names = &name;
  j.xattr_values = &value;
  j.mode = mode;
  j.uid = j.gid = -1;
  j.verify = VERIFY_INFLATE;
  j.header = *header;
  j.compressed = *compressed;
  j.size = size;
  memcpy(j.expected, expected, 64);
  j.expected[64] = 0;
  write_execute(NULL, &j);
  return j.vcode != NULL ? -1 : j.err;
}

static void write_job_free(napi_env env, WriteJob *j) {
  for (size_t i = 0; i < j->nchunks; i++)
    if (j->chunk_refs != NULL && j->chunk_refs[i] != NULL) napi_delete_reference(env, j->chunk_refs[i]);
  for (size_t i = 0; i < j->nxattrs; i++) {
    if (j->xattr_refs != NULL && j->xattr_refs[i] != NULL) napi_delete_reference(env, j->xattr_refs[i]);
    if (j->xattr_names != NULL) free(j->xattr_names[i]);
  }
  free(j->chunks);
  free(j->chunk_refs);
  free(j->xattr_names);
  free(j->xattr_values);
  free(j->xattr_refs);
  if (j->header_ref != NULL) napi_delete_reference(env, j->header_ref);
  if (j->compressed_ref != NULL) napi_delete_reference(env, j->compressed_ref);
  free(j->path);
  free(j);
}

static void write_complete(napi_env env, napi_status status, void *data) {
  WriteJob *j = data;
  if (status == napi_ok && j->vcode != NULL) {
    napi_value code, msg, error, v;
    napi_create_string_utf8(env, j->vcode, NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, j->vmsg, NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, code, msg, &error);
    napi_create_string_utf8(env, j->actual, NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, error, "actual", v);
    napi_create_double(env, (double)j->produced, &v);
    napi_set_named_property(env, error, "produced", v);
    napi_reject_deferred(env, j->deferred, error);
  } else if (status == napi_ok && j->err == 0) {
    napi_value undef;
    napi_get_undefined(env, &undef);
    napi_resolve_deferred(env, j->deferred, undef);
  } else {
    napi_reject_deferred(env, j->deferred, ots_errno_error(env, j->err != 0 ? j->err : EIO, j->failed != NULL ? j->failed : "writeNew", j->path));
  }
  napi_delete_async_work(env, j->work);
  write_job_free(env, j);
}

// The bytes of a Buffer/Uint8Array, kept alive by a reference until the job ends.
static int get_bytes(napi_env env, napi_value v, struct iovec *out, napi_ref *ref) {
  bool is_ta = false;
  napi_is_typedarray(env, v, &is_ta);
  if (is_ta) {
    napi_typedarray_type t;
    size_t len = 0, off = 0;
    napi_value ab;
    void *base = NULL;
    if (napi_get_typedarray_info(env, v, &t, &len, &base, &ab, &off) != napi_ok || t != napi_uint8_array) return -1;
    out->iov_base = base;
    out->iov_len = len;
  } else {
    return -1;
  }
  return napi_create_reference(env, v, 1, ref) == napi_ok ? 0 : -1;
}

bool ots_get_bytes_sync(napi_env env, napi_value v, struct iovec *out) {
  bool is_ta = false;
  napi_typedarray_type t;
  size_t len = 0, off = 0;
  napi_value ab;
  void *base = NULL;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta || napi_get_typedarray_info(env, v, &t, &len, &base, &ab, &off) != napi_ok || t != napi_uint8_array)
    return false;
  out->iov_base = base;
  out->iov_len = len;
  return true;
}

int ots_parse_hex(const char *h, uint8_t *out, size_t bytes) {
  for (size_t i = 0; i < bytes; i++) {
    int v[2];
    for (int k = 0; k < 2; k++) {
      char c = h[2 * i + k];
      v[k] = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (v[k] < 0) return -1;
    }
    out[i] = (uint8_t)(v[0] << 4 | v[1]);
  }
  return 0;
}

bool ots_checksum_arg(napi_env env, napi_value v, uint8_t *out) {
  char buf[66];
  size_t len = 0;
  return napi_get_value_string_utf8(env, v, buf, sizeof buf, &len) == napi_ok && len == 64 && ots_parse_hex(buf, out, 32) == 0;
}

napi_value ots_pairs_array(napi_env env, const char *buf, size_t len) {
  napi_value list;
  napi_create_array(env, &list);
  uint32_t i = 0;
  for (size_t off = 0; off < len; i++) {
    const char *a = buf + off;
    size_t al = strlen(a);
    const char *b = a + al + 1;
    size_t bl = strlen(b);
    napi_value pair, x, y;
    napi_create_array_with_length(env, 2, &pair);
    napi_create_string_utf8(env, a, al, &x);
    napi_create_string_utf8(env, b, bl, &y);
    napi_set_element(env, pair, 0, x);
    napi_set_element(env, pair, 1, y);
    napi_set_element(env, list, i, pair);
    off += al + 1 + bl + 1;
  }
  return list;
}

bool ots_get_bool_prop(napi_env env, napi_value obj, const char *name, bool fallback) {
  napi_value v;
  napi_valuetype t;
  bool out = fallback;
  if (napi_get_named_property(env, obj, name, &v) == napi_ok && napi_typeof(env, v, &t) == napi_ok && t == napi_boolean)
    napi_get_value_bool(env, v, &out);
  return out;
}

int32_t ots_get_int_prop(napi_env env, napi_value obj, const char *name, int32_t fallback) {
  napi_value v;
  napi_valuetype t;
  int32_t out = fallback;
  if (napi_get_named_property(env, obj, name, &v) == napi_ok && napi_typeof(env, v, &t) == napi_ok && t == napi_number)
    napi_get_value_int32(env, v, &out);
  return out;
}

// Fill j from (path, chunks, {mode, xattrs, uid, gid}); chunks may be undefined when
// `chunks_optional`. Returns -1 with a TypeError thrown (and j freed) on bad arguments.
static int parse_write(napi_env env, WriteJob *j, napi_value path, napi_value chunks, napi_value opts, bool chunks_optional, const char *usage) {
  napi_value xattrs;
  napi_valuetype ct = napi_undefined;
  uint32_t n = 0;
  bool is_array = false;
  napi_typeof(env, chunks, &ct);
  bool no_chunks = chunks_optional && (ct == napi_undefined || ct == napi_null);
  if ((j->path = ots_get_string(env, path, NULL)) == NULL
      || (!no_chunks && (napi_is_array(env, chunks, &is_array) != napi_ok || !is_array || napi_get_array_length(env, chunks, &n) != napi_ok))) {
    write_job_free(env, j);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
    return -1;
  }
  j->nchunks = n;
  j->chunks = calloc(n + 1, sizeof *j->chunks);
  j->chunk_refs = calloc(n + 1, sizeof *j->chunk_refs);
  for (uint32_t i = 0; i < n; i++) {
    napi_value c;
    if (napi_get_element(env, chunks, i, &c) != napi_ok || get_bytes(env, c, &j->chunks[i], &j->chunk_refs[i]) != 0) {
      write_job_free(env, j);
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "every chunk must be a Uint8Array");
      return -1;
    }
  }
  j->mode = ots_get_int_prop(env, opts, "mode", 0644);
  j->uid = ots_get_int_prop(env, opts, "uid", -1);
  j->gid = ots_get_int_prop(env, opts, "gid", -1);
  uint32_t nx = 0;
  if (napi_get_named_property(env, opts, "xattrs", &xattrs) == napi_ok && napi_is_array(env, xattrs, &is_array) == napi_ok && is_array)
    napi_get_array_length(env, xattrs, &nx);
  j->nxattrs = nx;
  j->xattr_names = calloc(nx + 1, sizeof *j->xattr_names);
  j->xattr_values = calloc(nx + 1, sizeof *j->xattr_values);
  j->xattr_refs = calloc(nx + 1, sizeof *j->xattr_refs);
  for (uint32_t i = 0; i < nx; i++) {
    napi_value x, xn, xv;
    if (napi_get_element(env, xattrs, i, &x) != napi_ok || napi_get_named_property(env, x, "name", &xn) != napi_ok
        || napi_get_named_property(env, x, "value", &xv) != napi_ok || (j->xattr_names[i] = ots_get_string(env, xn, NULL)) == NULL
        || get_bytes(env, xv, &j->xattr_values[i], &j->xattr_refs[i]) != 0) {
      write_job_free(env, j);
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "xattrs must be {name: string, value: Uint8Array}[]");
      return -1;
    }
  }
  return 0;
}

void *ots_calloc(napi_env env, size_t size) {
  void *p = calloc(1, size);
  if (p == NULL) napi_throw_error(env, "ERR_NATIVE", "out of memory");
  return p;
}

static WriteJob *new_job(napi_env env) { return ots_calloc(env, sizeof(WriteJob)); }

// The first n arguments, or false with a TypeError thrown naming the usage.
bool ots_get_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv, const char *usage) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < n) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
    return false;
  }
  return true;
}

static napi_value js_write_new(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  const char *usage = "writeNew(path, chunks: Uint8Array[], {mode, xattrs, uid, gid})";
  if (!ots_get_args(env, info, 3, argv, usage)) return NULL;
  WriteJob *j = new_job(env);
  if (j == NULL || parse_write(env, j, argv[0], argv[1], argv[2], false, usage) != 0) return NULL;
  return ots_queue_job(env, "ots_write_new", write_execute, write_complete, j, &j->deferred, &j->work);
}

static napi_value js_inflate_verify(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  const char *usage = "inflateVerify(path, header: Uint8Array, compressed: Uint8Array, size: number, expected: hex, {chunks?, mode, xattrs, uid, gid})";
  if (!ots_get_args(env, info, 6, argv, usage)) return NULL;
  WriteJob *j = new_job(env);
  if (j == NULL) return NULL;
  j->verify = VERIFY_INFLATE;
  double size = -1;
  size_t elen = 0;
  napi_value chunks;
  if (napi_get_named_property(env, argv[5], "chunks", &chunks) != napi_ok || get_bytes(env, argv[1], &j->header, &j->header_ref) != 0
      || get_bytes(env, argv[2], &j->compressed, &j->compressed_ref) != 0 || napi_get_value_double(env, argv[3], &size) != napi_ok
      || !(size >= 0 && size <= 9007199254740991.0) || napi_get_value_string_utf8(env, argv[4], j->expected, sizeof j->expected, &elen) != napi_ok
      || elen != 64) {
    write_job_free(env, j);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
    return NULL;
  }
  j->size = (uint64_t)size;
  if (parse_write(env, j, argv[0], chunks, argv[5], true, usage) != 0) return NULL;
  return ots_queue_job(env, "ots_inflate_verify", write_execute, write_complete, j, &j->deferred, &j->work);
}

static napi_value js_write_verified(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  const char *usage = "writeVerified(path, header: Uint8Array, payload: Uint8Array, expected: hex, {chunks?, mode, xattrs, uid, gid})";
  if (!ots_get_args(env, info, 5, argv, usage)) return NULL;
  WriteJob *j = new_job(env);
  if (j == NULL) return NULL;
  j->verify = VERIFY_RAW;
  size_t elen = 0;
  napi_value chunks;
  if (napi_get_named_property(env, argv[4], "chunks", &chunks) != napi_ok || get_bytes(env, argv[1], &j->header, &j->header_ref) != 0
      || get_bytes(env, argv[2], &j->compressed, &j->compressed_ref) != 0
      || napi_get_value_string_utf8(env, argv[3], j->expected, sizeof j->expected, &elen) != napi_ok || elen != 64) {
    write_job_free(env, j);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
    return NULL;
  }
  napi_valuetype ct = napi_undefined;
  napi_typeof(env, chunks, &ct);
  bool own_chunks = ct != napi_undefined && ct != napi_null;
  // Without chunks the file holds the payload itself.
  if (parse_write(env, j, argv[0], chunks, argv[4], true, usage) != 0) return NULL;
  if (!own_chunks) {
    j->nchunks = 1;
    j->chunks[0] = j->compressed;
  }
  return ots_queue_job(env, "ots_write_verified", write_execute, write_complete, j, &j->deferred, &j->work);
}

// ---- symlink xattrs -----------------------------------------------------------

static napi_value js_lxattrs(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char *path = ots_get_string(env, argv[0], NULL);
  if (path == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "lxattrs(path): path must be a string");
    return NULL;
  }
  CHECK(napi_create_array(env, &result));
  ssize_t len = llistxattr(path, NULL, 0);
  char *names = NULL;
  for (int attempt = 0; len > 0 && attempt < 4; attempt++) {
    free(names);
    names = malloc((size_t)len);
    if (names == NULL) break;
    ssize_t got = llistxattr(path, names, (size_t)len);
    if (got >= 0) { len = got; break; }
    if (errno != ERANGE) { len = -1; break; }
    len = llistxattr(path, NULL, 0);  // grew meanwhile
  }
  if (len < 0) {
    int e = errno;
    free(names);
    if (e == ENOTSUP) { free(path); return result; }
    napi_throw(env, ots_errno_error(env, e, "llistxattr", path));
    free(path);
    return NULL;
  }
  uint32_t i = 0;
  for (ssize_t off = 0; names != NULL && off < len; off += (ssize_t)strlen(names + off) + 1) {
    const char *name = names + off;
    ssize_t vlen = lgetxattr(path, name, NULL, 0);
    void *buf = NULL;
    napi_value entry, n, v;
    if (vlen < 0) continue;  // removed meanwhile
    if (napi_create_buffer(env, (size_t)vlen, &buf, &v) != napi_ok) break;
    if (vlen > 0 && lgetxattr(path, name, buf, (size_t)vlen) != vlen) continue;
    napi_create_object(env, &entry);
    napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &n);
    napi_set_named_property(env, entry, "name", n);
    napi_set_named_property(env, entry, "value", v);
    napi_set_element(env, result, i++, entry);
  }
  free(names);
  free(path);
  return result;
}

static napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  struct iovec value;
  napi_ref ref = NULL;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char *path = argc >= 3 ? ots_get_string(env, argv[0], NULL) : NULL;
  char *name = argc >= 3 ? ots_get_string(env, argv[1], NULL) : NULL;
  if (path == NULL || name == NULL || get_bytes(env, argv[2], &value, &ref) != 0) {
    free(path);
    free(name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "lsetxattr(path, name, value: Uint8Array)");
    return NULL;
  }
  if (lsetxattr(path, name, value.iov_base, value.iov_len, 0) != 0) napi_throw(env, ots_errno_error(env, errno, "lsetxattr", path));
  napi_delete_reference(env, ref);
  free(path);
  free(name);
  return NULL;
}

// ---- checkout plans -------------------------------------------------------

typedef struct Chunk {
  struct Chunk *next;
  size_t len;
  char data[];
} Chunk;

typedef struct {
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  Chunk *head, *tail;
  int closing, aborted, finished, started;
  int objects_fd, cur_fd;
  char *cur_path;
  // First fatal error.
  int err;
  char err_op;
  char *err_path;
  // Links that must be copied instead: "dir/name\0src\0" pairs.
  char *copies;
  size_t copies_len, copies_cap;
  size_t ops;
  napi_async_work work;
  napi_deferred deferred;
  napi_ref self_ref;  // keeps the handle alive while planFinish is in flight
} Plan;

static void plan_fail(Plan *p, char op, int err, const char *path) {
  if (p->err != 0) return;
  p->err = err;
  p->err_op = op;
  p->err_path = strdup(path);
}

static void plan_note_copy(Plan *p, const char *name, const char *src) {
  size_t dl = strlen(p->cur_path), nl = strlen(name), sl = strlen(src);
  size_t need = dl + 1 + nl + 1 + sl + 1;
  if (p->copies_len + need > p->copies_cap) {
    size_t cap = p->copies_cap * 2 + need + 4096;
    char *n = realloc(p->copies, cap);
    if (n == NULL) {
      plan_fail(p, 'L', ENOMEM, name);
      return;
    }
    p->copies = n;
    p->copies_cap = cap;
  }
  char *o = p->copies + p->copies_len;
  memcpy(o, p->cur_path, dl);
  o[dl] = '/';
  memcpy(o + dl + 1, name, nl + 1);
  memcpy(o + dl + 1 + nl + 1, src, sl + 1);
  p->copies_len += need;
}

static int plan_set_dir(Plan *p, const char *path) {
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno;
  if (p->cur_fd >= 0) close(p->cur_fd);
  p->cur_fd = fd;
  free(p->cur_path);
  p->cur_path = strdup(path);
  return p->cur_path == NULL ? ENOMEM : 0;
}

// Next NUL-terminated field of a chunk, or NULL at its end.
static const char *next_field(const char **cursor, const char *end) {
  if (*cursor >= end) return NULL;
  const char *f = *cursor;
  const char *nul = memchr(f, '\0', (size_t)(end - f));
  if (nul == NULL) return NULL;
  *cursor = nul + 1;
  return f;
}

static void plan_run_chunk(Plan *p, const Chunk *c) {
  const char *cur = c->data, *end = c->data + c->len;
  for (;;) {
    if (p->err != 0) return;
    const char *op = next_field(&cur, end);
    if (op == NULL) return;
    const char *a = next_field(&cur, end);
    if (a == NULL) {
      plan_fail(p, '?', EINVAL, "(truncated plan)");
      return;
    }
    p->ops++;
    switch (op[0]) {
      case 'C': {
        int e = plan_set_dir(p, a);
        if (e != 0) plan_fail(p, 'C', e, a);
        break;
      }
      case 'D': {
        if (mkdir(a, 0700) != 0) {
          plan_fail(p, 'D', errno, a);
          break;
        }
        int e = plan_set_dir(p, a);
        if (e != 0) plan_fail(p, 'D', e, a);
        break;
      }
      case 'L': {
        const char *name = next_field(&cur, end);
        if (name == NULL || p->cur_fd < 0) {
          plan_fail(p, 'L', EINVAL, a);
          break;
        }
        if (linkat(p->objects_fd, a, p->cur_fd, name, 0) != 0) {
          int e = errno;
          if (e == EXDEV || e == EMLINK) plan_note_copy(p, name, a);
          else plan_fail(p, 'L', e, name);
        }
        break;
      }
      case 'S': {
        const char *name = next_field(&cur, end);
        if (name == NULL || p->cur_fd < 0) {
          plan_fail(p, 'S', EINVAL, a);
          break;
        }
        if (symlinkat(a, p->cur_fd, name) != 0) plan_fail(p, 'S', errno, name);
        break;
      }
      case 'M': {
        const char *mode = next_field(&cur, end), *uid = next_field(&cur, end), *gid = next_field(&cur, end);
        if (mode == NULL || uid == NULL || gid == NULL) {
          plan_fail(p, 'M', EINVAL, a);
          break;
        }
        long u = strtol(uid, NULL, 10), g = strtol(gid, NULL, 10);
        if (u >= 0 && chown(a, (uid_t)u, (gid_t)g) != 0) {
          plan_fail(p, 'M', errno, a);
          break;
        }
        if (chmod(a, (mode_t)strtol(mode, NULL, 8)) != 0) plan_fail(p, 'M', errno, a);
        break;
      }
      default:
        plan_fail(p, op[0], EINVAL, "(unknown plan operation)");
    }
  }
}

static void *plan_thread(void *arg) {
  Plan *p = arg;
  for (;;) {
    pthread_mutex_lock(&p->lock);
    while (p->head == NULL && !p->closing) pthread_cond_wait(&p->cond, &p->lock);
    Chunk *c = p->head;
    if (c != NULL) {
      p->head = c->next;
      if (p->head == NULL) p->tail = NULL;
    }
    int aborted = p->aborted;
    pthread_mutex_unlock(&p->lock);
    if (c == NULL) break;  // closing and drained
    if (!aborted) plan_run_chunk(p, c);
    free(c);
  }
  return NULL;
}

static void plan_free(Plan *p) {
  Chunk *c = p->head;
  while (c != NULL) {
    Chunk *n = c->next;
    free(c);
    c = n;
  }
  if (p->cur_fd >= 0) close(p->cur_fd);
  if (p->objects_fd >= 0) close(p->objects_fd);
  free(p->cur_path);
  free(p->err_path);
  free(p->copies);
  pthread_mutex_destroy(&p->lock);
  pthread_cond_destroy(&p->cond);
  free(p);
}

static void plan_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  Plan *p = data;
  if (p->finished) {
    plan_free(p);
    return;
  }
  // Dropped without planFinish: stop the thread, then free.
  pthread_mutex_lock(&p->lock);
  p->closing = 1;
  p->aborted = 1;
  pthread_cond_signal(&p->cond);
  pthread_mutex_unlock(&p->lock);
  if (p->started) pthread_join(p->thread, NULL);
  plan_free(p);
}

static Plan *get_plan(napi_env env, napi_value v) {
  void *data = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, &data) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a plan handle from planOpen()");
    return NULL;
  }
  return data;
}

static napi_value js_plan_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], handle;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char *dir = ots_get_string(env, argv[0], NULL);
  if (dir == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "planOpen(objectsDir): objectsDir must be a string");
    return NULL;
  }
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    napi_throw(env, ots_errno_error(env, errno, "open", dir));
    free(dir);
    return NULL;
  }
  free(dir);
  Plan *p = calloc(1, sizeof *p);
  if (p == NULL) {
    close(fd);
    napi_throw_error(env, "ERR_NATIVE", "out of memory");
    return NULL;
  }
  p->objects_fd = fd;
  p->cur_fd = -1;
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->cond, NULL);
  if (pthread_create(&p->thread, NULL, plan_thread, p) != 0) {
    plan_free(p);
    napi_throw_error(env, "ERR_NATIVE", "ots_sys: cannot start the plan thread");
    return NULL;
  }
  p->started = 1;
  CHECK(napi_create_external(env, p, plan_finalize, NULL, &handle));
  return handle;
}

static napi_value js_plan_push(napi_env env, napi_callback_info info) {
  size_t argc = 2, len = 0;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Plan *p = get_plan(env, argv[0]);
  if (p == NULL) return NULL;
  if (p->finished || p->closing) {
    napi_throw_error(env, "ERR_NATIVE", "planPush after planFinish");
    return NULL;
  }
  if (napi_get_value_string_utf8(env, argv[1], NULL, 0, &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "planPush(handle, chunk): chunk must be a string");
    return NULL;
  }
  Chunk *c = malloc(sizeof *c + len + 1);
  if (c == NULL) {
    napi_throw_error(env, "ERR_NATIVE", "out of memory");
    return NULL;
  }
  CHECK(napi_get_value_string_utf8(env, argv[1], c->data, len + 1, &c->len));
  c->next = NULL;
  pthread_mutex_lock(&p->lock);
  if (p->tail != NULL) p->tail->next = c;
  else p->head = c;
  p->tail = c;
  pthread_cond_signal(&p->cond);
  pthread_mutex_unlock(&p->lock);
  return NULL;
}

static void plan_finish_execute(napi_env env, void *data) {
  (void)env;
  Plan *p = data;
  pthread_join(p->thread, NULL);
  p->started = 0;
}

static void plan_finish_complete(napi_env env, napi_status status, void *data) {
  (void)status;
  Plan *p = data;
  napi_value result, v;
  napi_create_object(env, &result);
  napi_create_double(env, (double)p->ops, &v);
  napi_set_named_property(env, result, "ops", v);
  if (p->err != 0) {
    char op[2] = {p->err_op, 0};
    napi_value e = ots_errno_error(env, p->err, op[0] == 'L' ? "linkat" : op[0] == 'S' ? "symlinkat" : op[0] == 'M' ? "chmod" : op[0] == 'D' ? "mkdir" : "open", p->err_path);
    napi_create_string_utf8(env, op, 1, &v);
    napi_set_named_property(env, e, "op", v);
    napi_set_named_property(env, result, "error", e);
  }
  napi_set_named_property(env, result, "copies", ots_pairs_array(env, p->copies, p->copies_len));
  napi_resolve_deferred(env, p->deferred, result);
  napi_delete_async_work(env, p->work);
  napi_delete_reference(env, p->self_ref);
  // Close fds now; the handle's finalizer frees the rest.
  if (p->cur_fd >= 0) close(p->cur_fd);
  if (p->objects_fd >= 0) close(p->objects_fd);
  p->cur_fd = p->objects_fd = -1;
}

static napi_value js_plan_finish(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  bool abort_plan = false;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Plan *p = get_plan(env, argv[0]);
  if (p == NULL) return NULL;
  if (p->finished) {
    napi_throw_error(env, "ERR_NATIVE", "planFinish called twice");
    return NULL;
  }
  if (argc > 1) napi_get_value_bool(env, argv[1], &abort_plan);
  p->finished = 1;
  pthread_mutex_lock(&p->lock);
  p->closing = 1;
  if (abort_plan) p->aborted = 1;
  pthread_cond_signal(&p->cond);
  pthread_mutex_unlock(&p->lock);
  CHECK(napi_create_reference(env, argv[0], 1, &p->self_ref));
  return ots_queue_job(env, "ots_plan_finish", plan_finish_execute, plan_finish_complete, p, &p->deferred, &p->work);
}

// mallocMmapThreshold(bytes): glibc serves allocations of at least `bytes`
// with mmap and gives them back at free (mallopt M_MMAP_THRESHOLD, which also
// stops glibc raising the threshold as large blocks are freed: with the
// adaptive default, freed part buffers of a delta generation stay in the
// arenas and the RSS only grows). false where unsupported (not glibc).
static napi_value js_malloc_mmap_threshold(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  int32_t bytes = 0;
  bool ok = false;
  if (!ots_get_args(env, info, 1, argv, "mallocMmapThreshold(bytes: number)")) return NULL;
  napi_get_value_int32(env, argv[0], &bytes);
#ifdef __GLIBC__
  ok = bytes > 0 && mallopt(M_MMAP_THRESHOLD, bytes) == 1 && mallopt(M_TRIM_THRESHOLD, bytes) == 1;
#endif
  napi_get_boolean(env, ok, &out);
  return out;
}

NAPI_MODULE_INIT() {
  static const struct { const char *name; napi_callback fn; } functions[] = {
      {"syncfs", js_syncfs},           {"writeNew", js_write_new}, {"inflateVerify", js_inflate_verify},
      {"writeVerified", js_write_verified}, {"readRegular", js_read_regular}, {"renameObjects", js_rename_objects},
      {"lxattrs", js_lxattrs},         {"lsetxattr", js_lsetxattr}, {"lock", js_lock},
      {"planOpen", js_plan_open},      {"planPush", js_plan_push}, {"planFinish", js_plan_finish},
      {"checkoutTree", ots_js_checkout_tree}, {"parseDirtree", ots_js_parse_dirtree}, {"parseDirmeta", ots_js_parse_dirmeta},
      {"pruneScan", ots_js_prune_scan}, {"missingScan", ots_js_missing_scan}, {"executePart", ots_js_execute_part}, {"fetchObjects", ots_js_fetch_objects},   {"bsdiff", ots_js_bsdiff},
      {"bspatch", ots_js_bspatch},   {"mallocMmapThreshold", js_malloc_mmap_threshold},
  };
  napi_property_descriptor props[sizeof functions / sizeof functions[0]];
  memset(props, 0, sizeof props);
  for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++) {
    props[i].utf8name = functions[i].name;
    props[i].method = functions[i].fn;
    props[i].attributes = napi_enumerable;
  }
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
