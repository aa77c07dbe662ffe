// bsdiff for static-delta generation, on the thread pool.
//
//   bsdiff(old: Uint8Array, new: Uint8Array) -> Promise<Buffer>
//
// The raw patch stream ostree embeds in 'B' operations (static-deltas.md §5):
// repeated control words x, y, z (8-byte sign-magnitude little-endian), then
// x bytes of new-minus-old differences, then y bytes copied from the new
// file; the old position moves by x + z. shared/delta/bspatch.ts applies it.
//
// The algorithm is Colin Percival's (bsdiff 4): a suffix array of the old
// file by Larsson-Sadakane qsufsort, then a scan of the new file for
// approximate matches. 32-bit indices (8 bytes per old byte while sorting, 4
// after), so files must stay below 2 GiB (the caller caps them far lower).
// The sort's partition recursion runs on an explicit heap stack: no input
// can overflow a thread's stack.
#define _GNU_SOURCE
#include "ots_sys.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <stdio.h>
#include <string.h>

typedef struct {
  int32_t start, len, jj, kk, stage;
} SplitFrame;

typedef struct {
  SplitFrame *f;
  size_t n, cap;
} SplitStack;

static int stack_push(SplitStack *s, int32_t start, int32_t len) {
  if (s->n == s->cap) {
    size_t cap = s->cap * 2 + 64;
    SplitFrame *f = realloc(s->f, cap * sizeof *f);
    if (f == NULL) return -1;
    s->f = f;
    s->cap = cap;
  }
  s->f[s->n++] = (SplitFrame){start, len, 0, 0, 0};
  return 0;
}

// Sort I[start, start+len) by V[I[k]+h] and refine the groups (qsufsort's
// split): the recursive original's order, with the recursion on a heap stack.
static int split(int32_t *I, int32_t *V, int32_t start0, int32_t len0, int32_t h, SplitStack *st) {
  st->n = 0;
  if (stack_push(st, start0, len0) != 0) return -1;
  while (st->n > 0) {
    SplitFrame *fr = &st->f[st->n - 1];
    int32_t start = fr->start, len = fr->len;
    if (fr->stage == 1) {
      // Left part done: number the middle group, then continue with the right part.
      int32_t jj = fr->jj, kk = fr->kk;
      for (int32_t i = 0; i < kk - jj; i++) V[I[jj + i]] = kk - 1;
      if (jj == kk - 1) I[jj] = -1;
      st->n--;
      if (start + len > kk && stack_push(st, kk, start + len - kk) != 0) return -1;
      continue;
    }
    if (len < 16) {
      int32_t j;
      for (int32_t k = start; k < start + len; k += j) {
        j = 1;
        int32_t x = V[I[k] + h];
        for (int32_t i = 1; k + i < start + len; i++) {
          if (V[I[k + i] + h] < x) {
            x = V[I[k + i] + h];
            j = 0;
          }
          if (V[I[k + i] + h] == x) {
            int32_t tmp = I[k + j];
            I[k + j] = I[k + i];
            I[k + i] = tmp;
            j++;
          }
        }
        for (int32_t i = 0; i < j; i++) V[I[k + i]] = k + j - 1;
        if (j == 1) I[k] = -1;
      }
      st->n--;
      continue;
    }
    int32_t x = V[I[start + len / 2] + h], jj = 0, kk = 0;
    for (int32_t i = start; i < start + len; i++) {
      if (V[I[i] + h] < x) jj++;
      if (V[I[i] + h] == x) kk++;
    }
    jj += start;
    kk += jj;
    int32_t i = start, j = 0, k = 0;
    while (i < jj) {
      if (V[I[i] + h] < x) {
        i++;
      } else if (V[I[i] + h] == x) {
        int32_t tmp = I[i];
        I[i] = I[jj + j];
        I[jj + j] = tmp;
        j++;
      } else {
        int32_t tmp = I[i];
        I[i] = I[kk + k];
        I[kk + k] = tmp;
        k++;
      }
    }
    while (jj + j < kk) {
      if (V[I[jj + j] + h] == x) {
        j++;
      } else {
        int32_t tmp = I[jj + j];
        I[jj + j] = I[kk + k];
        I[kk + k] = tmp;
        k++;
      }
    }
    fr->jj = jj;
    fr->kk = kk;
    fr->stage = 1;
    if (jj > start && stack_push(st, start, jj - start) != 0) return -1;
  }
  return 0;
}

// Suffix array of old[0, n) into I (n + 1 entries), using V (n + 1) as scratch.
static int qsufsort(int32_t *I, int32_t *V, const uint8_t *old, int32_t n) {
  int32_t buckets[256] = {0};
  SplitStack st = {0};
  for (int32_t i = 0; i < n; i++) buckets[old[i]]++;
  for (int i = 1; i < 256; i++) buckets[i] += buckets[i - 1];
  for (int i = 255; i > 0; i--) buckets[i] = buckets[i - 1];
  buckets[0] = 0;
  for (int32_t i = 0; i < n; i++) I[++buckets[old[i]]] = i;
  I[0] = n;
  for (int32_t i = 0; i < n; i++) V[i] = buckets[old[i]];
  V[n] = 0;
  for (int i = 1; i < 256; i++)
    if (buckets[i] == buckets[i - 1] + 1) I[buckets[i]] = -1;
  I[0] = -1;
  for (int32_t h = 1; I[0] != -(n + 1); h += h) {
    int32_t len = 0, i = 0;
    while (i < n + 1) {
      if (I[i] < 0) {
        len -= I[i];
        i -= I[i];
      } else {
        if (len) I[i - len] = -len;
        len = V[I[i]] + 1 - i;
        if (split(I, V, i, len, h, &st) != 0) {
          free(st.f);
          return -1;
        }
        i += len;
        len = 0;
      }
    }
    if (len) I[i - len] = -len;
    if (h > n) break;  // cannot happen for a valid sort; bounds the loop regardless
  }
  free(st.f);
  for (int32_t i = 0; i < n + 1; i++) I[V[i]] = i;
  return 0;
}

static int32_t matchlen(const uint8_t *a, int32_t an, const uint8_t *b, int32_t bn) {
  int32_t i = 0;
  while (i < an && i < bn && a[i] == b[i]) i++;
  return i;
}

// Longest match of nw[0, nn) among the suffixes I[st..en] of old.
static int32_t search(const int32_t *I, const uint8_t *old, int32_t on, const uint8_t *nw, int32_t nn, int32_t st, int32_t en, int32_t *pos) {
  while (en - st >= 2) {
    int32_t x = st + (en - st) / 2;
    int32_t l = on - I[x] < nn ? on - I[x] : nn;
    if (memcmp(old + I[x], nw, (size_t)l) < 0) st = x;
    else en = x;
  }
  int32_t x = matchlen(old + I[st], on - I[st], nw, nn);
  int32_t y = matchlen(old + I[en], on - I[en], nw, nn);
  if (x > y) {
    *pos = I[st];
    return x;
  }
  *pos = I[en];
  return y;
}

typedef struct {
  uint8_t *p;
  size_t n, cap;
} Out;

static int out_reserve(Out *o, size_t more) {
  if (o->n + more <= o->cap) return 0;
  size_t cap = o->cap * 2 + more + 65536;
  uint8_t *p = realloc(o->p, cap);
  if (p == NULL) return -1;
  o->p = p;
  o->cap = cap;
  return 0;
}

static void offtout(int64_t x, uint8_t *buf) {
  uint64_t y = x < 0 ? (uint64_t)(-x) : (uint64_t)x;
  for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(y >> (8 * i));
  if (x < 0) buf[7] |= 0x80;
}

// The suffix arrays come straight from mmap and go back with munmap: through
// malloc, glibc's adaptive mmap threshold would keep freed arrays in the
// thread arenas, and the process's RSS would keep the largest ones forever.
static int32_t *map_array(size_t n) {
  void *p = mmap(NULL, n * sizeof(int32_t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static void unmap_array(int32_t *a, size_t n) {
  if (a != NULL) munmap(a, n * sizeof(int32_t));
}

// The patch from old to nw; 0, or ENOMEM / EFBIG.
static int diff(const uint8_t *old, size_t oldsize_, const uint8_t *nw, size_t newsize_, Out *out) {
  if (oldsize_ >= INT32_MAX / 2 || newsize_ >= INT32_MAX / 2) return EFBIG;
  int32_t oldsize = (int32_t)oldsize_, newsize = (int32_t)newsize_;
  size_t na = (size_t)oldsize + 1;
  int32_t *I = map_array(na), *V = map_array(na);
  if (I == NULL || V == NULL || qsufsort(I, V, old, oldsize) != 0) {
    unmap_array(I, na);
    unmap_array(V, na);
    return ENOMEM;
  }
  unmap_array(V, na);
  int32_t scan = 0, len = 0, pos = 0, lastscan = 0, lastpos = 0, lastoffset = 0;
  while (scan < newsize) {
    int32_t oldscore = 0, scsc;
    for (scsc = scan += len; scan < newsize; scan++) {
      len = search(I, old, oldsize, nw + scan, newsize - scan, 0, oldsize, &pos);
      for (; scsc < scan + len; scsc++)
        if (scsc + lastoffset < oldsize && old[scsc + lastoffset] == nw[scsc]) oldscore++;
      if ((len == oldscore && len != 0) || len > oldscore + 8) break;
      if (scan + lastoffset < oldsize && old[scan + lastoffset] == nw[scan]) oldscore--;
    }
    if (len == oldscore && scan != newsize) continue;
    int32_t s = 0, sf = 0, lenf = 0;
    for (int32_t i = 0; lastscan + i < scan && lastpos + i < oldsize;) {
      if (old[lastpos + i] == nw[lastscan + i]) s++;
      i++;
      if (s * 2 - i > sf * 2 - lenf) {
        sf = s;
        lenf = i;
      }
    }
    int32_t lenb = 0;
    if (scan < newsize) {
      int32_t sb = 0;
      s = 0;
      for (int32_t i = 1; scan >= lastscan + i && pos >= i; i++) {
        if (old[pos - i] == nw[scan - i]) s++;
        if (s * 2 - i > sb * 2 - lenb) {
          sb = s;
          lenb = i;
        }
      }
    }
    if (lastscan + lenf > scan - lenb) {
      int32_t overlap = (lastscan + lenf) - (scan - lenb), ss = 0, lens = 0;
      s = 0;
      for (int32_t i = 0; i < overlap; i++) {
        if (nw[lastscan + lenf - overlap + i] == old[lastpos + lenf - overlap + i]) s++;
        if (nw[scan - lenb + i] == old[pos - lenb + i]) s--;
        if (s > ss) {
          ss = s;
          lens = i + 1;
        }
      }
      lenf += lens - overlap;
      lenb -= lens;
    }
    int32_t extra = (scan - lenb) - (lastscan + lenf);
    if (out_reserve(out, 24 + (size_t)lenf + (size_t)extra) != 0) {
      unmap_array(I, na);
      return ENOMEM;
    }
    offtout(lenf, out->p + out->n);
    offtout(extra, out->p + out->n + 8);
    offtout((int64_t)(pos - lenb) - (lastpos + lenf), out->p + out->n + 16);
    out->n += 24;
    for (int32_t i = 0; i < lenf; i++) out->p[out->n++] = (uint8_t)(nw[lastscan + i] - old[lastpos + i]);
    memcpy(out->p + out->n, nw + lastscan + lenf, (size_t)extra);
    out->n += (size_t)extra;
    lastscan = scan - lenb;
    lastpos = pos - lenb;
    lastoffset = pos - scan;
  }
  unmap_array(I, na);
  return 0;
}

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref old_ref, new_ref;
  struct iovec old, nw;
  Out out;
  int err;
} DiffJob;

static void diff_execute(napi_env env, void *data) {
  (void)env;
  DiffJob *j = data;
  j->err = diff(j->old.iov_base, j->old.iov_len, j->nw.iov_base, j->nw.iov_len, &j->out);
}

static void diff_complete(napi_env env, napi_status status, void *data) {
  (void)status;
  DiffJob *j = data;
  if (j->err != 0) {
    napi_reject_deferred(env, j->deferred, ots_errno_error(env, j->err, "bsdiff", NULL));
  } else {
    napi_value buf;
    void *p;
    if (napi_create_buffer_copy(env, j->out.n, j->out.n > 0 ? j->out.p : (const void *)"", &p, &buf) == napi_ok) napi_resolve_deferred(env, j->deferred, buf);
    else napi_reject_deferred(env, j->deferred, ots_errno_error(env, ENOMEM, "bsdiff", NULL));
  }
  napi_delete_reference(env, j->old_ref);
  napi_delete_reference(env, j->new_ref);
  napi_delete_async_work(env, j->work);
  free(j->out.p);
  free(j);
}

napi_value ots_js_bsdiff(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  const char *usage = "bsdiff(old: Uint8Array, new: Uint8Array)";
  if (!ots_get_args(env, info, 2, argv, usage)) return NULL;
  DiffJob *j = ots_calloc(env, sizeof *j);
  if (j == NULL) return NULL;
  if (!ots_get_bytes_sync(env, argv[0], &j->old) || !ots_get_bytes_sync(env, argv[1], &j->nw)) {
    free(j);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
    return NULL;
  }
  // The inputs stay referenced (alive, not collected) until the job completes.
  CHECK(napi_create_reference(env, argv[0], 1, &j->old_ref));
  CHECK(napi_create_reference(env, argv[1], 1, &j->new_ref));
  return ots_queue_job(env, "ots_bsdiff", diff_execute, diff_complete, j, &j->deferred, &j->work);
}

// ---- bspatch ------------------------------------------------------------------
//
//   bspatch(old: Uint8Array, patch: Uint8Array, size: number) -> Promise<Buffer>
//
// Apply a raw bsdiff stream on the thread pool (a delta pull's 'B' operations):
// exactly `size` bytes or a rejection with code ERR_BAD_FORMAT, as
// shared/delta/bspatch.ts. Old positions outside the old file read as zero;
// the old position saturates at +-2^61, so no patch can overflow it.

static int64_t offtin(const uint8_t *b) {
  int64_t y = b[7] & 0x7f;
  for (int i = 6; i >= 0; i--) y = y * 256 + b[i];
  return (b[7] & 0x80) ? -y : y;
}

#define POS_LIMIT ((int64_t)1 << 61)

static int64_t clamp_pos(int64_t a, int64_t b) {
  // Both within +-2^61 here: no overflow in the sum.
  int64_t s = a + b;
  return s > POS_LIMIT ? POS_LIMIT : s < -POS_LIMIT ? -POS_LIMIT : s;
}

static const char *patch_apply(const uint8_t *old, size_t oldsize, const uint8_t *p, size_t plen, uint8_t *out, size_t size);

// For native/delta_exec.c: NULL when `out` holds exactly `size` patched bytes, else why not.
const char *ots_bspatch_apply(const uint8_t *old, size_t oldsize, const uint8_t *p, size_t plen, uint8_t *out, size_t size) {
  return patch_apply(old != NULL ? old : (const uint8_t *)"", oldsize, p, plen, out, size);
}

static const char *patch_apply(const uint8_t *old, size_t oldsize, const uint8_t *p, size_t plen, uint8_t *out, size_t size) {
  size_t newpos = 0, pp = 0;
  int64_t oldpos = 0;
  while (newpos < size) {
    if (plen - pp < 24) return "truncated control block";
    int64_t x = offtin(p + pp), y = offtin(p + pp + 8), z = offtin(p + pp + 16);
    pp += 24;
    if (x < 0 || y < 0 || (uint64_t)x > size - newpos || (uint64_t)x > plen - pp) return "diff length out of range";
    for (int64_t i = 0; i < x; i++) {
      int64_t o = oldpos + i;  // |oldpos| <= 2^61 and i < 2^31: no overflow
      out[newpos + (size_t)i] = (uint8_t)(p[pp + (size_t)i] + (o >= 0 && (uint64_t)o < oldsize ? old[o] : 0));
    }
    pp += (size_t)x;
    newpos += (size_t)x;
    oldpos = clamp_pos(oldpos, x);
    if ((uint64_t)y > size - newpos || (uint64_t)y > plen - pp) return "extra length out of range";
    memcpy(out + newpos, p + pp, (size_t)y);
    pp += (size_t)y;
    newpos += (size_t)y;
    oldpos = clamp_pos(oldpos, z > POS_LIMIT ? POS_LIMIT : z < -POS_LIMIT ? -POS_LIMIT : z);
  }
  return NULL;
}

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref old_ref, patch_ref;
  struct iovec old, patch;
  uint8_t *out;
  size_t size;
  const char *why;
} PatchJob;

static void patch_execute(napi_env env, void *data) {
  (void)env;
  PatchJob *j = data;
  j->out = malloc(j->size > 0 ? j->size : 1);
  j->why = j->out == NULL ? "out of memory" : patch_apply(j->old.iov_base, j->old.iov_len, j->patch.iov_base, j->patch.iov_len, j->out, j->size);
}

static void patch_complete(napi_env env, napi_status status, void *data) {
  (void)status;
  PatchJob *j = data;
  napi_value buf;
  // Handed over, not copied: a delta pull patches ~30 MB, and a copy here runs on the main thread.
  if (j->why == NULL && ots_take_buffer(env, &j->out, j->size, &buf)) {
    napi_resolve_deferred(env, j->deferred, buf);
  } else {
    char msg[96];
    napi_value code, m, e;
    snprintf(msg, sizeof msg, "Corrupt bsdiff patch: %s", j->why != NULL ? j->why : "out of memory");
    napi_create_string_utf8(env, "ERR_BAD_FORMAT", NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
    napi_create_error(env, code, m, &e);
    napi_reject_deferred(env, j->deferred, e);
  }
  napi_delete_reference(env, j->old_ref);
  napi_delete_reference(env, j->patch_ref);
  napi_delete_async_work(env, j->work);
  free(j->out);
  free(j);
}

napi_value ots_js_bspatch(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  const char *usage = "bspatch(old: Uint8Array, patch: Uint8Array, size: number)";
  double size = -1;
  if (!ots_get_args(env, info, 3, argv, usage)) return NULL;
  PatchJob *j = ots_calloc(env, sizeof *j);
  if (j == NULL) return NULL;
  if (!ots_get_bytes_sync(env, argv[0], &j->old) || !ots_get_bytes_sync(env, argv[1], &j->patch) || napi_get_value_double(env, argv[2], &size) != napi_ok
      || !(size >= 0 && size <= (double)(1u << 31))) {
    free(j);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
    return NULL;
  }
  j->size = (size_t)size;
  CHECK(napi_create_reference(env, argv[0], 1, &j->old_ref));
  CHECK(napi_create_reference(env, argv[1], 1, &j->patch_ref));
  return ots_queue_job(env, "ots_bspatch", patch_execute, patch_complete, j, &j->deferred, &j->work);
}
