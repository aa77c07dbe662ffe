// The scan behind a prune: which loose objects no root reaches.
//
//   pruneScan(objectsDir, roots: [treeHex, metaHex, partial][], commits: hex[], contentExt)
//     -> Promise<{total, unreachable: string[], error?}>
//
// One thread marks: it walks every root tree (dirtrees read with O_NOFOLLOW,
// SHA-256-verified and parsed by tree_format.c; an explicit stack, so any
// depth), collecting dirtree, dirmeta and content checksums in hash sets.
// Meanwhile a second thread lists objects/xx/ (the loose commits, dirtrees,
// dirmetas and content objects ostree prunes, named by 62 characters before
// the dot). `unreachable` lists "xx/rest.ext" of every listed object not
// marked (commits: not in `commits`), `total` how many were listed.
// The traversal rules are TypeScript's markTree (shared/repo/prune.ts): a
// subdirectory's dirmeta is kept even when its tree is missing; a missing
// tree of a root marked partial is skipped, of a complete one an error
// (code ERR_OBJECT_NOT_FOUND, checksum, root: the root's index).
#define _GNU_SOURCE
#include "ots_sys.h"
#include "tree_format.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// ---- a set of 32-byte checksums (open addressing; SHA-256 bytes hash themselves)

typedef struct {
  uint8_t (*keys)[32];
  uint8_t *used;
  size_t cap, n;
} Set;

static size_t slot(const Set *s, const uint8_t *k) {
  uint64_t h;
  memcpy(&h, k, 8);
  size_t i = (size_t)h & (s->cap - 1);
  while (s->used[i] && memcmp(s->keys[i], k, 32) != 0) i = (i + 1) & (s->cap - 1);
  return i;
}

static int set_has(const Set *s, const uint8_t *k) { return s->cap != 0 && s->used[slot(s, k)]; }

// 1 added, 0 present, -1 out of memory.
static int set_add(Set *s, const uint8_t *k) {
  if ((s->n + 1) * 2 > s->cap) {
    Set g = {0};
    g.cap = s->cap == 0 ? 1024 : s->cap * 2;
    g.keys = malloc(g.cap * sizeof *g.keys);
    g.used = calloc(g.cap, 1);
    if (g.keys == NULL || g.used == NULL) {
      free(g.keys);
      free(g.used);
      return -1;
    }
    for (size_t i = 0; i < s->cap; i++) {
      if (!s->used[i]) continue;
      size_t j = slot(&g, s->keys[i]);
      g.used[j] = 1;
      memcpy(g.keys[j], s->keys[i], 32);
    }
    g.n = s->n;
    free(s->keys);
    free(s->used);
    *s = g;
  }
  size_t i = slot(s, k);
  if (s->used[i]) return 0;
  s->used[i] = 1;
  memcpy(s->keys[i], k, 32);
  s->n++;
  return 1;
}

static void set_free(Set *s) {
  free(s->keys);
  free(s->used);
}

// ---- the job ------------------------------------------------------------------

enum { K_COMMIT, K_DIRTREE, K_DIRMETA, K_FILE };

typedef struct {
  uint8_t csum[32];
  uint8_t kind, valid;  // valid: the name was 62 hex digits
  char rel[80];
} Listed;

typedef struct {
  uint8_t tree[32], meta[32];
  int partial;
} Root;

typedef struct {
  uint8_t tree[32], meta[32];
  uint32_t root;
  uint8_t is_root;
} Frame;

typedef struct {
  // Where objects are looked up, in order: objects/ (pruneScan); a transaction's
  // staging directory, then objects/ (missingScan). Same xx/rest.ext layout.
  int fds[2];
  size_t nfds;
  char content_ext[8];
  // missingScan: trees not found (the walk does not descend into them).
  int want_missing;
  Set missing_trees;
  Root *roots;
  size_t nroots;
  Set commits, dirtrees, dirmetas, files;
  // Listing (second thread).
  Listed *listed;
  size_t nlisted, listed_cap;
  int list_err;
  // Marking failure.
  int err;  // errno, OTS_E* or 0
  const char *err_code, *err_what;
  char err_csum[65], err_type[10];
  long err_root;
  napi_async_work work;
  napi_deferred deferred;
} Scan;

static void list_dir(Scan *s, int objects_fd);

static void *list_thread(void *arg) {
  Scan *s = arg;
  for (size_t i = 0; i < s->nfds && s->list_err == 0; i++) list_dir(s, s->fds[i]);
  return NULL;
}

static void list_dir(Scan *s, int objects_fd) {
  int dfd = dup(objects_fd);
  DIR *top = dfd < 0 ? NULL : fdopendir(dfd);
  if (top == NULL) {
    s->list_err = errno;
    if (dfd >= 0) close(dfd);
    return;
  }
  struct dirent *p;
  while ((p = readdir(top)) != NULL) {
    const char *pre = p->d_name;
    uint8_t b0;
    if (strlen(pre) != 2 || ots_parse_hex(pre, &b0, 1) != 0) continue;
    int sfd = openat(objects_fd, pre, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *sub = sfd < 0 ? NULL : fdopendir(sfd);
    if (sub == NULL) {
      s->list_err = errno;
      if (sfd >= 0) close(sfd);
      break;
    }
    struct dirent *e;
    while ((e = readdir(sub)) != NULL) {
      const char *n = e->d_name;
      size_t len = strlen(n);
      if (len < 63 || n[62] != '.') continue;
      const char *ext = n + 62;
      int kind = strcmp(ext, s->content_ext) == 0 ? K_FILE : strcmp(ext, ".commit") == 0 ? K_COMMIT
                 : strcmp(ext, ".dirtree") == 0 ? K_DIRTREE : strcmp(ext, ".dirmeta") == 0 ? K_DIRMETA : -1;
      if (kind < 0) continue;
      if (s->nlisted == s->listed_cap) {
        size_t cap = s->listed_cap * 2 + 4096;
        Listed *l = realloc(s->listed, cap * sizeof *l);
        if (l == NULL) {
          s->list_err = ENOMEM;
          break;
        }
        s->listed = l;
        s->listed_cap = cap;
      }
      Listed *l = &s->listed[s->nlisted++];
      l->kind = (uint8_t)kind;
      l->csum[0] = b0;
      l->valid = ots_parse_hex(n, l->csum + 1, 31) == 0;
      snprintf(l->rel, sizeof l->rel, "%s/%s", pre, n);
    }
    closedir(sub);
    if (s->list_err != 0) break;
  }
  closedir(top);
}

// A dirtree from the first directory that has it.
static int read_tree(const Scan *s, const uint8_t *csum, uint8_t **bytes, size_t *n) {
  int err = ENOENT;
  for (size_t i = 0; i < s->nfds && err == ENOENT; i++) err = ots_read_object(s->fds[i], csum, "dirtree", bytes, n);
  return err;
}

static void mark_fail(Scan *s, int err, const char *code, const char *what, const uint8_t *csum, const char *type, long root) {
  s->err = err;
  s->err_code = code;
  s->err_what = what;
  if (csum != NULL) ots_hex(csum, s->err_csum);
  snprintf(s->err_type, sizeof s->err_type, "%s", type);
  s->err_root = root;
}

static void mark(Scan *s) {
  Frame *stack = NULL;
  size_t depth = 0, cap = 0;
  for (size_t r = 0; r < s->nroots; r++) {
    if (depth == cap) {
      cap = cap * 2 + 256;
      Frame *n = realloc(stack, cap * sizeof *n);
      if (n == NULL) goto oom;
      stack = n;
    }
    Frame *f = &stack[depth++];
    memcpy(f->tree, s->roots[r].tree, 32);
    memcpy(f->meta, s->roots[r].meta, 32);
    f->root = (uint32_t)r;
    f->is_root = 1;
    while (depth > 0) {
      Frame cur = stack[--depth];
      if (!cur.is_root && set_add(&s->dirmetas, cur.meta) < 0) goto oom;
      if (set_has(&s->dirtrees, cur.tree)) {
        if (set_add(&s->dirmetas, cur.meta) < 0) goto oom;
        continue;
      }
      uint8_t *bytes = NULL;
      size_t n = 0;
      int err = read_tree(s, cur.tree, &bytes, &n);
      if (err == ENOENT && s->want_missing && set_add(&s->missing_trees, cur.tree) < 0) goto oom;
      if (err == ENOENT && s->roots[cur.root].partial) continue;
      if (err != 0) {
        mark_fail(s, err, err == ENOENT ? "ERR_OBJECT_NOT_FOUND" : err == OTS_ECORRUPT ? "ERR_CHECKSUM_MISMATCH" : err < 0 ? "ERR_BAD_FORMAT" : NULL,
                  ots_read_error(err), cur.tree, "dirtree", (long)cur.root);
        goto out;
      }
      OtsDirtree dt;
      const char *why = NULL;
      int ok = ots_dirtree_read(bytes, n, &dt, &why) == 0;
      if (ok && (set_add(&s->dirmetas, cur.meta) < 0 || set_add(&s->dirtrees, cur.tree) < 0)) ok = 0, why = "out of memory";
      for (size_t i = 0; ok && i < dt.nfiles; i++)
        if (set_add(&s->files, dt.files[i].csum) < 0) ok = 0, why = "out of memory";
      if (ok && depth + dt.ndirs > cap) {
        size_t c = (depth + dt.ndirs) * 2 + 256;
        Frame *nf = realloc(stack, c * sizeof *nf);
        if (nf == NULL) ok = 0, why = "out of memory";
        else stack = nf, cap = c;
      }
      for (size_t i = 0; ok && i < dt.ndirs; i++) {
        Frame *c = &stack[depth++];
        memcpy(c->tree, dt.dirs[i].tree, 32);
        memcpy(c->meta, dt.dirs[i].meta, 32);
        c->root = cur.root;
        c->is_root = 0;
      }
      ots_dirtree_free(&dt);
      free(bytes);
      if (!ok) {
        mark_fail(s, strcmp(why, "out of memory") == 0 ? ENOMEM : -1, strcmp(why, "out of memory") == 0 ? NULL : "ERR_BAD_FORMAT", why,
                  cur.tree, "dirtree", (long)cur.root);
        goto out;
      }
    }
  }
  goto out;
oom:
  mark_fail(s, ENOMEM, NULL, "out of memory", NULL, "", -1);
out:
  free(stack);
}

static void scan_execute(napi_env env, void *data) {
  (void)env;
  Scan *s = data;
  pthread_t t;
  int threaded = pthread_create(&t, NULL, list_thread, s) == 0;
  mark(s);
  if (threaded) pthread_join(t, NULL);
  else list_thread(s);
}

static void scan_free(Scan *s) {
  for (size_t i = 0; i < s->nfds; i++) close(s->fds[i]);
  set_free(&s->missing_trees);
  set_free(&s->commits);
  set_free(&s->dirtrees);
  set_free(&s->dirmetas);
  set_free(&s->files);
  free(s->roots);
  free(s->listed);
  free(s);
}

// The failure of a scan: a format verdict on a tree (code, checksum, objectType, root) or a system error.
static napi_value scan_error(napi_env env, const Scan *s, int oom) {
  napi_value e, v;
  if (s->err_code != NULL) {
    napi_value code, msg;
    napi_create_string_utf8(env, s->err_code, NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, s->err_what, NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, code, msg, &e);
    napi_create_string_utf8(env, s->err_csum, NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, e, "checksum", v);
    napi_create_string_utf8(env, s->err_type, NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, e, "objectType", v);
    napi_create_int64(env, s->err_root, &v);
    napi_set_named_property(env, e, "root", v);
    return e;
  }
  int err = oom ? ENOMEM : s->err != 0 ? s->err : s->list_err;
  return ots_errno_error(env, err, s->err != 0 ? "read" : "readdir", s->err != 0 ? s->err_csum : "objects");
}

static void scan_complete(napi_env env, napi_status status, void *data) {
  (void)status;
  Scan *s = data;
  napi_value result, v, list;
  napi_create_object(env, &result);
  if (s->err != 0 || s->list_err != 0) napi_set_named_property(env, result, "error", scan_error(env, s, 0));
  napi_create_double(env, (double)s->nlisted, &v);
  napi_set_named_property(env, result, "total", v);
  napi_create_array(env, &list);
  uint32_t k = 0;
  if (s->err == 0 && s->list_err == 0) {
    const Set *by_kind[] = {&s->commits, &s->dirtrees, &s->dirmetas, &s->files};
    for (size_t i = 0; i < s->nlisted; i++) {
      const Listed *l = &s->listed[i];
      if (l->valid && set_has(by_kind[l->kind], l->csum)) continue;
      napi_create_string_utf8(env, l->rel, NAPI_AUTO_LENGTH, &v);
      napi_set_element(env, list, k++, v);
    }
  }
  napi_set_named_property(env, result, "unreachable", list);
  napi_resolve_deferred(env, s->deferred, result);
  napi_delete_async_work(env, s->work);
  scan_free(s);
}

static bool open_dirs(napi_env env, Scan *s, char **dirs, size_t n);

napi_value ots_js_prune_scan(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  const char *usage = "pruneScan(objectsDir, roots: [treeHex, metaHex, partial][], commits: string[], contentExt)";
  if (!ots_get_args(env, info, 4, argv, usage)) return NULL;
  Scan *s = calloc(1, sizeof *s);
  char *dir = ots_get_string(env, argv[0], NULL);
  size_t extlen = 0;
  uint32_t nroots = 0, ncommits = 0;
  bool ok = s != NULL && dir != NULL && napi_get_array_length(env, argv[1], &nroots) == napi_ok
            && napi_get_array_length(env, argv[2], &ncommits) == napi_ok
            && napi_get_value_string_utf8(env, argv[3], s->content_ext, sizeof s->content_ext, &extlen) == napi_ok && extlen > 1
            && (s->roots = calloc(nroots + 1, sizeof *s->roots)) != NULL;
  for (uint32_t i = 0; ok && i < nroots; i++) {
    napi_value r, t, m, p;
    bool partial = false;
    ok = napi_get_element(env, argv[1], i, &r) == napi_ok && napi_get_element(env, r, 0, &t) == napi_ok && napi_get_element(env, r, 1, &m) == napi_ok
         && napi_get_element(env, r, 2, &p) == napi_ok && ots_checksum_arg(env, t, s->roots[i].tree) && ots_checksum_arg(env, m, s->roots[i].meta)
         && napi_get_value_bool(env, p, &partial) == napi_ok;
    if (ok) s->roots[i].partial = partial;
  }
  if (s != NULL) s->nroots = nroots;
  for (uint32_t i = 0; ok && i < ncommits; i++) {
    napi_value c;
    uint8_t csum[32];
    ok = napi_get_element(env, argv[2], i, &c) == napi_ok && ots_checksum_arg(env, c, csum) && set_add(&s->commits, csum) >= 0;
  }
  if (!ok) {
    free(dir);
    if (s != NULL) scan_free(s);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
    return NULL;
  }
  if (!open_dirs(env, s, &dir, 1)) return NULL;
  return ots_queue_job(env, "ots_prune_scan", scan_execute, scan_complete, s, &s->deferred, &s->work);
}

// Open dirs[0..n) into s->fds (and free the names); false with an error thrown and s freed.
static bool open_dirs(napi_env env, Scan *s, char **dirs, size_t n) {
  bool ok = true;
  for (size_t i = 0; i < n; i++) {
    int fd = ok ? open(dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (ok && fd < 0) {
      napi_throw(env, ots_errno_error(env, errno, "open", dirs[i]));
      ok = false;
    }
    if (fd >= 0) s->fds[s->nfds++] = fd;
    free(dirs[i]);
  }
  if (!ok) scan_free(s);
  return ok;
}

// ---- missingScan: what a tree still lacks ------------------------------------
//
//   missingScan(dirs: [stagingDir, objectsDir], treeHex, metaHex, contentExt)
//     -> Promise<{dirtree: hex[], dirmeta: hex[], file: hex[], error?}>
//
// The walk a pull makes after storing a commit (puller/pull/pull.ts
// needDirtree), in C: every dirtree reachable from `tree` that is stored in
// either directory is read (SHA-256-verified, parsed by tree_format.c) and
// descended into; the result lists the reachable objects found in neither:
// trees not descended into (the pull fetches and walks them), their
// subdirectories' dirmetas, and content objects. A stored tree that is
// corrupt or malformed is an error (code, checksum) as in pruneScan. The
// walk and the listing run as pruneScan's (scan_execute).

// The marked checksums of `marked` not listed with `kind`, as hex strings.
static napi_value unlisted(napi_env env, const Scan *s, const Set *listed, const Set *marked) {
  napi_value list, v;
  char h[65];
  uint32_t k = 0;
  napi_create_array(env, &list);
  for (size_t i = 0; i < marked->cap; i++) {
    if (!marked->used[i] || set_has(listed, marked->keys[i])) continue;
    ots_hex(marked->keys[i], h);
    napi_create_string_utf8(env, h, 64, &v);
    napi_set_element(env, list, k++, v);
  }
  (void)s;
  return list;
}

static void missing_complete(napi_env env, napi_status status, void *data) {
  (void)status;
  Scan *s = data;
  napi_value result;
  napi_create_object(env, &result);
  Set listed[4] = {{0}};
  int oom = 0;
  for (size_t i = 0; i < s->nlisted && s->err == 0 && s->list_err == 0; i++)
    if (s->listed[i].valid && set_add(&listed[s->listed[i].kind], s->listed[i].csum) < 0) oom = 1;
  if (s->err != 0 || s->list_err != 0 || oom) {
    napi_set_named_property(env, result, "error", scan_error(env, s, oom));
  } else {
    Set none = {0};
    napi_set_named_property(env, result, "dirtree", unlisted(env, s, &none, &s->missing_trees));
    napi_set_named_property(env, result, "dirmeta", unlisted(env, s, &listed[K_DIRMETA], &s->dirmetas));
    napi_set_named_property(env, result, "file", unlisted(env, s, &listed[K_FILE], &s->files));
  }
  for (int k = 0; k < 4; k++) set_free(&listed[k]);
  napi_resolve_deferred(env, s->deferred, result);
  napi_delete_async_work(env, s->work);
  scan_free(s);
}

napi_value ots_js_missing_scan(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  const char *usage = "missingScan(dirs: [string, string], treeHex, metaHex, contentExt)";
  if (!ots_get_args(env, info, 4, argv, usage)) return NULL;
  Scan *s = calloc(1, sizeof *s);
  char *dirs[2] = {NULL, NULL};
  uint32_t ndirs = 0;
  size_t extlen = 0;
  bool ok = s != NULL && napi_get_array_length(env, argv[0], &ndirs) == napi_ok && ndirs >= 1 && ndirs <= 2
            && napi_get_value_string_utf8(env, argv[3], s->content_ext, sizeof s->content_ext, &extlen) == napi_ok && extlen > 1
            && (s->roots = calloc(1, sizeof *s->roots)) != NULL && ots_checksum_arg(env, argv[1], s->roots[0].tree)
            && ots_checksum_arg(env, argv[2], s->roots[0].meta);
  for (uint32_t i = 0; ok && i < ndirs; i++) {
    napi_value d;
    ok = napi_get_element(env, argv[0], i, &d) == napi_ok && (dirs[i] = ots_get_string(env, d, NULL)) != NULL;
  }
  if (!ok) {
    free(dirs[0]);
    free(dirs[1]);
    if (s != NULL) scan_free(s);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
    return NULL;
  }
  s->nroots = 1;
  s->roots[0].partial = 1;  // a missing tree is listed, not an error
  s->want_missing = 1;
  if (!open_dirs(env, s, dirs, ndirs)) return NULL;
  return ots_queue_job(env, "ots_missing_scan", scan_execute, missing_complete, s, &s->deferred, &s->work);
}
