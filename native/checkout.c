// Hardlink checkout of a whole tree, walked and written natively.
//
//   checkoutTree(objectsDir, root, tree, meta, {threads, userMode, ownerIsOurs, euid, egid})
//     -> Promise<{dirs, files, copies: [dest, objectRelPath][], error?}>
//
// `root` is an existing empty directory (TypeScript created and checked it).
// Worker threads read each dirtree (objects/xx/rest.dirtree, at most 10 MiB),
// verify its SHA-256 against its name, parse it (tree_format.c), then in the
// directory's fd: linkat every file from the objects dir (as ostree does;
// symlinks in bare and bare-user-only repos are hardlinked as symlinks),
// mkdirat every subdirectory at 0700 and open it with O_NOFOLLOW, walk it, and
// finally give the directory its dirmeta (xattrs unless userMode, chown when
// the owner differs from what mkdir gave, chmod last). Nothing is resolved
// through a path a tree controls: every name is one validated component
// relative to a directory fd we created. A worker hands a subdirectory to an
// idle worker instead of walking it itself, so the kernel work (linkat and
// mkdirat are most of a checkout) spreads over the cores; bench/deploy.ts.
//
// Links refused with EXDEV or EMLINK are reported in `copies` (the caller
// copies them). Any other failure stops every worker; `error` is then either
// a system error (errno, syscall, path) or a format error (code
// ERR_BAD_FORMAT, ERR_CHECKSUM_MISMATCH, ERR_OBJECT_NOT_FOUND or
// ERR_UNSAFE_PATH, with checksum and objectType). Whatever was created stays
// for the caller to remove.
//
//   parseDirtree(bytes) -> {files: [name, hex][], dirs: [name, hex, hex][]}
//   parseDirmeta(bytes) -> {uid, gid, mode, xattrs: [name, Uint8Array][]}
//     The parsers alone (tests compare them with the TypeScript decoders);
//     throw {code: 'ERR_BAD_FORMAT', message} on malformed input.
#define _GNU_SOURCE
#include "ots_sys.h"
#include "tree_format.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <openssl/evp.h>

#define MAX_METADATA_SIZE (10 * 1024 * 1024)  // OSTREE_MAX_METADATA_SIZE
#define MAX_DEPTH 1024                        // directories nested deeper are refused
#define MAX_THREADS 8
#define META_CACHE 64

typedef struct Item {
  struct Item *next;
  int fd, depth;
  char *path;
  uint8_t tree[32], meta[32];
} Item;

typedef struct {
  int objects_fd, threads, user_mode, owner_is_ours;
  uid_t euid;
  gid_t egid;
  char *root;
  uint8_t root_tree[32], root_meta[32];

  pthread_mutex_t lock;
  pthread_cond_t cond;
  Item *queue;
  int queued, idle, done, failed;
  size_t dirs, files;

  // The first failure.
  int err;                  // errno, or 0 for a format error
  const char *err_syscall;  // system errors
  const char *err_code;     // format errors
  char *err_msg, *err_path;
  char err_csum[65];
  const char *err_type;

  // Refused links: "dest\0src\0" pairs.
  char *copies;
  size_t copies_len, copies_cap;

  napi_async_work work;
  napi_deferred deferred;
} Co;

typedef struct {
  uint8_t csum[32];
  uint8_t *bytes;
  OtsDirmeta meta;
} MetaEntry;

typedef struct {
  Co *co;
  MetaEntry cache[META_CACHE];
  size_t ncache, dirs, files;
} Worker;

void ots_hex(const uint8_t *c, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) {
    out[2 * i] = digits[c[i] >> 4];
    out[2 * i + 1] = digits[c[i] & 15];
  }
  out[64] = 0;
}

// "xx/rest.type" of an object, relative to objects/.
void ots_object_rel(const uint8_t *c, const char *type, char *out, size_t cap) {
  char h[65];
  ots_hex(c, h);
  snprintf(out, cap, "%.2s/%s.%s", h, h + 2, type);
}

static char *join_path(const char *dir, const char *name) {
  size_t dl = strlen(dir), nl = strlen(name);
  char *p = malloc(dl + 1 + nl + 1);
  if (p == NULL) return NULL;
  memcpy(p, dir, dl);
  p[dl] = '/';
  memcpy(p + dl + 1, name, nl + 1);
  return p;
}

static int failed(Co *co) { return __atomic_load_n(&co->failed, __ATOMIC_RELAXED); }

static void fail_errno(Co *co, int err, const char *syscall, const char *dir, const char *name) {
  pthread_mutex_lock(&co->lock);
  if (!co->failed) {
    __atomic_store_n(&co->failed, 1, __ATOMIC_RELAXED);
    co->err = err;
    co->err_syscall = syscall;
    co->err_path = name != NULL ? join_path(dir, name) : strdup(dir);
  }
  pthread_mutex_unlock(&co->lock);
}

static void fail_format(Co *co, const char *code, const char *msg, const uint8_t *csum, const char *type, const char *path) {
  pthread_mutex_lock(&co->lock);
  if (!co->failed) {
    __atomic_store_n(&co->failed, 1, __ATOMIC_RELAXED);
    co->err = 0;
    co->err_code = code;
    co->err_msg = strdup(msg);
    co->err_path = path != NULL ? strdup(path) : NULL;
    if (csum != NULL) ots_hex(csum, co->err_csum);
    co->err_type = type;
  }
  pthread_mutex_unlock(&co->lock);
}

static void note_copy(Co *co, const char *dir, const char *name, const char *src) {
  size_t dl = strlen(dir), nl = strlen(name), sl = strlen(src), need = dl + 1 + nl + 1 + sl + 1;
  pthread_mutex_lock(&co->lock);
  if (co->copies_len + need > co->copies_cap) {
    size_t cap = co->copies_cap * 2 + need + 4096;
    char *n = realloc(co->copies, cap);
    if (n == NULL) {
      pthread_mutex_unlock(&co->lock);
      fail_errno(co, ENOMEM, "malloc", dir, name);
      return;
    }
    co->copies = n;
    co->copies_cap = cap;
  }
  char *o = co->copies + co->copies_len;
  memcpy(o, dir, dl);
  o[dl] = '/';
  memcpy(o + dl + 1, name, nl + 1);
  memcpy(o + dl + 1 + nl + 1, src, sl + 1);
  co->copies_len += need;
  pthread_mutex_unlock(&co->lock);
}

int ots_read_object(int objects_fd, const uint8_t *csum, const char *type, uint8_t **out, size_t *len) {
  char rel[80];
  ots_object_rel(csum, type, rel, sizeof rel);
  // O_NONBLOCK: a FIFO planted in objects/ is refused below instead of blocking the open.
  int fd = openat(objects_fd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return errno;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return e;
  }
  if (!S_ISREG(st.st_mode) || st.st_size > MAX_METADATA_SIZE) {
    close(fd);
    return S_ISREG(st.st_mode) ? OTS_ETOOBIG : OTS_ENOTREG;
  }
  size_t n = (size_t)st.st_size, got = 0;
  uint8_t *buf = malloc(n + 1);
  if (buf == NULL) {
    close(fd);
    return ENOMEM;
  }
  while (got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (got != n || EVP_Digest(buf, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32 || memcmp(md, csum, 32) != 0) {
    free(buf);
    return OTS_ECORRUPT;
  }
  *out = buf;
  *len = n;
  return 0;
}

const char *ots_read_error(int err) {
  return err == OTS_ETOOBIG ? "metadata object larger than 10 MiB" : err == OTS_ENOTREG ? "metadata object is not a regular file"
         : err == OTS_ECORRUPT ? "checksum mismatch" : strerror(err);
}

// Read a metadata object and check its SHA-256; NULL (failure recorded) otherwise.
static uint8_t *read_verified(Co *co, const uint8_t *csum, const char *type, const char *path, size_t *len) {
  uint8_t *buf = NULL;
  int err = ots_read_object(co->objects_fd, csum, type, &buf, len);
  if (err == 0) return buf;
  char msg[200], h[65];
  ots_hex(csum, h);
  if (err == ENOENT) {
    snprintf(msg, sizeof msg, "No such metadata object %s.%s", h, type);
    fail_format(co, "ERR_OBJECT_NOT_FOUND", msg, csum, type, path);
  } else if (err == OTS_ECORRUPT) {
    snprintf(msg, sizeof msg, "Corrupted %s object %s: its content does not match its checksum", type, h);
    fail_format(co, "ERR_CHECKSUM_MISMATCH", msg, csum, type, path);
  } else if (err < 0) {
    snprintf(msg, sizeof msg, "%s: %s.%s", ots_read_error(err), h, type);
    fail_format(co, "ERR_BAD_FORMAT", msg, csum, type, path);
  } else {
    char rel[80];
    ots_object_rel(csum, type, rel, sizeof rel);
    fail_errno(co, err, "open", rel, NULL);
  }
  return NULL;
}

// A dirmeta, from the worker's cache; *owned is set when the cache was full
// and the caller must free it (cached entries stay valid: frames up the
// recursion hold pointers to them).
static const OtsDirmeta *load_meta(Worker *w, const uint8_t *csum, const char *path, MetaEntry **owned) {
  *owned = NULL;
  for (size_t i = 0; i < w->ncache; i++)
    if (memcmp(w->cache[i].csum, csum, 32) == 0) return &w->cache[i].meta;
  size_t n;
  uint8_t *bytes = read_verified(w->co, csum, "dirmeta", path, &n);
  if (bytes == NULL) return NULL;
  OtsDirmeta m;
  const char *why = NULL;
  if (ots_dirmeta_parse(bytes, n, &m, &why) != 0) {
    char msg[160];
    snprintf(msg, sizeof msg, "Invalid dirmeta object: %s", why);
    fail_format(w->co, "ERR_BAD_FORMAT", msg, csum, "dirmeta", path);
    free(bytes);
    return NULL;
  }
  MetaEntry *e = w->ncache < META_CACHE ? &w->cache[w->ncache++] : (*owned = malloc(sizeof *e));
  if (e == NULL) {
    fail_errno(w->co, ENOMEM, "malloc", path, NULL);
    free(bytes);
    return NULL;
  }
  memcpy(e->csum, csum, 32);
  e->bytes = bytes;
  e->meta = m;
  return &e->meta;
}

// Final metadata of a directory whose entries are all created.
static int apply_meta(Worker *w, int fd, const OtsDirmeta *m, const char *path, int is_root) {
  Co *co = w->co;
  if (!co->user_mode) {
    for (size_t i = 0; i < m->nxattrs; i++) {
      const char *name, *why;
      const uint8_t *value;
      size_t vlen;
      if (ots_xattr_at(m, i, &name, &value, &vlen, &why) != 0) {  // validated at parse time: cannot happen
        fail_errno(co, EINVAL, "fsetxattr", path, NULL);
        return -1;
      }
      if (fsetxattr(fd, name, value, vlen, 0) != 0) {
        fail_errno(co, errno, "fsetxattr", path, NULL);
        return -1;
      }
    }
    if ((is_root || !co->owner_is_ours || m->uid != co->euid || m->gid != co->egid) && fchown(fd, m->uid, m->gid) != 0) {
      fail_errno(co, errno, "fchown", path, NULL);
      return -1;
    }
  }
  if (fchmod(fd, m->mode & 07777) != 0) {
    fail_errno(co, errno, "fchmod", path, NULL);
    return -1;
  }
  return 0;
}

static int should_hand_off(Co *co) {
  pthread_mutex_lock(&co->lock);
  int yes = co->idle > co->queued;
  pthread_mutex_unlock(&co->lock);
  return yes;
}

static void push(Co *co, Item *it) {
  pthread_mutex_lock(&co->lock);
  it->next = co->queue;
  co->queue = it;
  co->queued++;
  pthread_cond_signal(&co->cond);
  pthread_mutex_unlock(&co->lock);
}

static void duplicate_name(Co *co, const uint8_t *tree, const char *dir, const char *name) {
  char msg[320];
  snprintf(msg, sizeof msg, "Duplicate name '%s' in dirtree", name);
  char *p = join_path(dir, name);
  fail_format(co, "ERR_UNSAFE_PATH", msg, tree, "dirtree", p);
  free(p);
}

// Check out one directory (fd: the directory, already created); closes fd.
static void walk(Worker *w, int fd, const char *path, const uint8_t *tree, const uint8_t *meta_csum, int depth) {
  Co *co = w->co;
  uint8_t *bytes = NULL;
  MetaEntry *owned = NULL;
  const OtsDirmeta *meta = NULL;
  OtsDirtree dt = {0};
  size_t n;
  const char *why = NULL;
  if (failed(co)) goto out;
  if (depth > MAX_DEPTH) {
    fail_format(co, "ERR_BAD_FORMAT", "Directories nested deeper than 1024 levels", tree, "dirtree", path);
    goto out;
  }
  meta = load_meta(w, meta_csum, path, &owned);
  if (meta == NULL || (bytes = read_verified(co, tree, "dirtree", path, &n)) == NULL) goto out;
  int perr = ots_dirtree_read(bytes, n, &dt, &why);
  if (perr == OTS_TREE_NOMEM) {
    fail_errno(co, ENOMEM, "malloc", path, NULL);
    goto out;
  }
  if (perr != 0) {
    char msg[200];
    snprintf(msg, sizeof msg, "%s %s (dirtree of %s)", perr == OTS_UNSAFE_NAME ? "Invalid" : "Invalid dirtree object:", why, path);
    fail_format(co, perr == OTS_UNSAFE_NAME ? "ERR_UNSAFE_PATH" : "ERR_BAD_FORMAT", msg, tree, "dirtree", path);
    goto out;
  }
  for (size_t i = 0; i < dt.nfiles && !failed(co); i++) {
    char rel[80];
    ots_object_rel(dt.files[i].csum, "file", rel, sizeof rel);
    if (linkat(co->objects_fd, rel, fd, dt.files[i].name, 0) == 0) {
      w->files++;
      continue;
    }
    int e = errno;
    if (e == EXDEV || e == EMLINK) {
      note_copy(co, path, dt.files[i].name, rel);
      w->files++;
    } else if (e == EEXIST) {
      duplicate_name(co, tree, path, dt.files[i].name);
    } else {
      fail_errno(co, e, "linkat", path, dt.files[i].name);
    }
  }
  for (size_t i = 0; i < dt.ndirs && !failed(co); i++) {
    const OtsTreeDir *d = &dt.dirs[i];
    if (mkdirat(fd, d->name, 0700) != 0) {
      if (errno == EEXIST) duplicate_name(co, tree, path, d->name);
      else fail_errno(co, errno, "mkdir", path, d->name);
      break;
    }
    int cfd = openat(fd, d->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    char *cpath = join_path(path, d->name);
    if (cfd < 0 || cpath == NULL) {
      fail_errno(co, cfd < 0 ? errno : ENOMEM, "open", path, d->name);
      if (cfd >= 0) close(cfd);
      free(cpath);
      break;
    }
    if (should_hand_off(co)) {
      Item *it = malloc(sizeof *it);
      if (it != NULL) {
        it->fd = cfd;
        it->depth = depth + 1;
        it->path = cpath;
        memcpy(it->tree, d->tree, 32);
        memcpy(it->meta, d->meta, 32);
        push(co, it);
        continue;
      }
    }
    walk(w, cfd, cpath, d->tree, d->meta, depth + 1);
    free(cpath);
  }
  if (!failed(co) && apply_meta(w, fd, meta, path, depth == 0) == 0) w->dirs++;
out:
  if (owned != NULL) free(owned->bytes);
  free(owned);
  ots_dirtree_free(&dt);
  free(bytes);
  close(fd);
}

static void *worker_run(void *arg) {
  Worker *w = arg;
  Co *co = w->co;
  pthread_mutex_lock(&co->lock);
  for (;;) {
    Item *it = co->queue;
    if (it != NULL) {
      co->queue = it->next;
      co->queued--;
      pthread_mutex_unlock(&co->lock);
      walk(w, it->fd, it->path, it->tree, it->meta, it->depth);  // closes the fd, also after a failure
      free(it->path);
      free(it);
      pthread_mutex_lock(&co->lock);
      continue;
    }
    if (co->done) break;
    if (++co->idle == co->threads) {
      co->done = 1;
      pthread_cond_broadcast(&co->cond);
      break;
    }
    pthread_cond_wait(&co->cond, &co->lock);
    co->idle--;
  }
  co->dirs += w->dirs;
  co->files += w->files;
  pthread_mutex_unlock(&co->lock);
  for (size_t i = 0; i < w->ncache; i++) free(w->cache[i].bytes);
  return NULL;
}

static void checkout_execute(napi_env env, void *data) {
  (void)env;
  Co *co = data;
  int fd = open(co->root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    fail_errno(co, errno, "open", co->root, NULL);
    return;
  }
  Item *root = malloc(sizeof *root);
  char *path = strdup(co->root);
  if (root == NULL || path == NULL) {
    free(root);
    free(path);
    close(fd);
    fail_errno(co, ENOMEM, "malloc", co->root, NULL);
    return;
  }
  root->fd = fd;
  root->depth = 0;
  root->path = path;
  memcpy(root->tree, co->root_tree, 32);
  memcpy(root->meta, co->root_meta, 32);
  push(co, root);
  Worker workers[MAX_THREADS];
  pthread_t tids[MAX_THREADS];
  int started = 0;
  memset(workers, 0, sizeof workers);
  for (int i = 0; i < co->threads; i++) workers[i].co = co;
  for (int i = 1; i < co->threads; i++) {
    if (pthread_create(&tids[i], NULL, worker_run, &workers[i]) != 0) {
      // Fewer threads than asked: the done condition counts the ones that run.
      pthread_mutex_lock(&co->lock);
      co->threads = 1 + started;
      pthread_mutex_unlock(&co->lock);
      break;
    }
    started++;
  }
  worker_run(&workers[0]);
  for (int i = 1; i <= started; i++) pthread_join(tids[i], NULL);
}

static void set_str(napi_env env, napi_value obj, const char *key, const char *value) {
  napi_value v;
  napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, key, v);
}

static void checkout_complete(napi_env env, napi_status status, void *data) {
  (void)status;
  Co *co = data;
  napi_value result, v;
  napi_create_object(env, &result);
  napi_create_double(env, (double)co->dirs, &v);
  napi_set_named_property(env, result, "dirs", v);
  napi_create_double(env, (double)co->files, &v);
  napi_set_named_property(env, result, "files", v);
  if (co->failed) {
    napi_value e;
    if (co->err != 0) {
      e = ots_errno_error(env, co->err, co->err_syscall, co->err_path);
    } else {
      napi_value code, msg;
      napi_create_string_utf8(env, co->err_code, NAPI_AUTO_LENGTH, &code);
      napi_create_string_utf8(env, co->err_msg != NULL ? co->err_msg : "checkout failed", NAPI_AUTO_LENGTH, &msg);
      napi_create_error(env, code, msg, &e);
      if (co->err_csum[0] != 0) set_str(env, e, "checksum", co->err_csum);
      if (co->err_type != NULL) set_str(env, e, "objectType", co->err_type);
      if (co->err_path != NULL) set_str(env, e, "path", co->err_path);
    }
    napi_set_named_property(env, result, "error", e);
  }
  napi_set_named_property(env, result, "copies", ots_pairs_array(env, co->copies, co->copies_len));
  napi_resolve_deferred(env, co->deferred, result);
  napi_delete_async_work(env, co->work);
  close(co->objects_fd);
  pthread_mutex_destroy(&co->lock);
  pthread_cond_destroy(&co->cond);
  free(co->root);
  free(co->err_msg);
  free(co->err_path);
  free(co->copies);
  free(co);
}

napi_value ots_js_checkout_tree(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  const char *usage = "checkoutTree(objectsDir, root, treeHex, metaHex, {threads, userMode, ownerIsOurs, euid, egid})";
  if (!ots_get_args(env, info, 5, argv, usage)) return NULL;
  Co *co = ots_calloc(env, sizeof *co);
  if (co == NULL) return NULL;
  char *objects = ots_get_string(env, argv[0], NULL);
  co->root = ots_get_string(env, argv[1], NULL);
  if (objects == NULL || co->root == NULL || !ots_checksum_arg(env, argv[2], co->root_tree) || !ots_checksum_arg(env, argv[3], co->root_meta)) {
    free(objects);
    free(co->root);
    free(co);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
    return NULL;
  }
  co->objects_fd = open(objects, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (co->objects_fd < 0) {
    napi_throw(env, ots_errno_error(env, errno, "open", objects));
    free(objects);
    free(co->root);
    free(co);
    return NULL;
  }
  free(objects);
  int threads = ots_get_int_prop(env, argv[4], "threads", 2);
  co->threads = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
  co->user_mode = ots_get_bool_prop(env, argv[4], "userMode", false);
  co->owner_is_ours = ots_get_bool_prop(env, argv[4], "ownerIsOurs", false);
  co->euid = (uid_t)ots_get_int_prop(env, argv[4], "euid", -1);
  co->egid = (gid_t)ots_get_int_prop(env, argv[4], "egid", -1);
  pthread_mutex_init(&co->lock, NULL);
  pthread_cond_init(&co->cond, NULL);
  return ots_queue_job(env, "ots_checkout_tree", checkout_execute, checkout_complete, co, &co->deferred, &co->work);
}

// ---- the parsers alone, for tests ------------------------------------------

static napi_value format_error(napi_env env, const char *why) {
  napi_value code, msg, e;
  napi_create_string_utf8(env, "ERR_BAD_FORMAT", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, why, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &e);
  napi_throw(env, e);
  return NULL;
}

static napi_value hex_value(napi_env env, const uint8_t *c) {
  char h[65];
  napi_value v;
  ots_hex(c, h);
  napi_create_string_utf8(env, h, 64, &v);
  return v;
}

static napi_value name_value(napi_env env, const char *name, size_t len) {
  napi_value v;
  napi_create_string_utf8(env, name, len, &v);
  return v;
}

// The one Uint8Array argument of a parser, or false with a TypeError thrown.
static bool bytes_arg(napi_env env, napi_callback_info info, const char *usage, struct iovec *b) {
  napi_value argv[1];
  if (!ots_get_args(env, info, 1, argv, usage)) return false;
  if (ots_get_bytes_sync(env, argv[0], b)) return true;
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
  return false;
}

napi_value ots_js_parse_dirtree(napi_env env, napi_callback_info info) {
  napi_value result, files, dirs;
  struct iovec b;
  if (!bytes_arg(env, info, "parseDirtree(bytes: Uint8Array)", &b)) return NULL;
  OtsDirtree dt;
  const char *why = NULL;
  if (ots_dirtree_read(b.iov_base, b.iov_len, &dt, &why) != 0) return format_error(env, why);
  napi_create_array_with_length(env, dt.nfiles, &files);
  for (size_t i = 0; i < dt.nfiles; i++) {
    napi_value pair;
    napi_create_array_with_length(env, 2, &pair);
    napi_set_element(env, pair, 0, name_value(env, dt.files[i].name, dt.files[i].name_len));
    napi_set_element(env, pair, 1, hex_value(env, dt.files[i].csum));
    napi_set_element(env, files, (uint32_t)i, pair);
  }
  napi_create_array_with_length(env, dt.ndirs, &dirs);
  for (size_t i = 0; i < dt.ndirs; i++) {
    napi_value triple;
    napi_create_array_with_length(env, 3, &triple);
    napi_set_element(env, triple, 0, name_value(env, dt.dirs[i].name, dt.dirs[i].name_len));
    napi_set_element(env, triple, 1, hex_value(env, dt.dirs[i].tree));
    napi_set_element(env, triple, 2, hex_value(env, dt.dirs[i].meta));
    napi_set_element(env, dirs, (uint32_t)i, triple);
  }
  ots_dirtree_free(&dt);
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "files", files);
  napi_set_named_property(env, result, "dirs", dirs);
  return result;
}

napi_value ots_js_parse_dirmeta(napi_env env, napi_callback_info info) {
  napi_value result, v, xattrs;
  struct iovec b;
  if (!bytes_arg(env, info, "parseDirmeta(bytes: Uint8Array)", &b)) return NULL;
  OtsDirmeta m;
  const char *why = NULL;
  if (ots_dirmeta_parse(b.iov_base, b.iov_len, &m, &why) != 0) return format_error(env, why);
  napi_create_object(env, &result);
  napi_create_uint32(env, m.uid, &v);
  napi_set_named_property(env, result, "uid", v);
  napi_create_uint32(env, m.gid, &v);
  napi_set_named_property(env, result, "gid", v);
  napi_create_uint32(env, m.mode, &v);
  napi_set_named_property(env, result, "mode", v);
  napi_create_array_with_length(env, m.nxattrs, &xattrs);
  for (size_t i = 0; i < m.nxattrs; i++) {
    const char *name;
    const uint8_t *value;
    size_t vlen;
    napi_value pair, buf;
    void *data;
    if (ots_xattr_at(&m, i, &name, &value, &vlen, &why) != 0) return format_error(env, why);
    napi_create_array_with_length(env, 2, &pair);
    napi_set_element(env, pair, 0, name_value(env, name, strlen(name)));
    napi_create_buffer_copy(env, vlen, value, &data, &buf);
    napi_set_element(env, pair, 1, buf);
    napi_set_element(env, xattrs, (uint32_t)i, pair);
  }
  napi_set_named_property(env, result, "xattrs", xattrs);
  return result;
}
