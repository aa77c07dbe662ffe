// Helpers shared by the addon's source files (defined in ots_sys.c).
#ifndef OTS_SYS_H
#define OTS_SYS_H

#define NAPI_VERSION 8
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#define CHECK(call)                                                      \
  do {                                                                   \
    if ((call) != napi_ok) {                                             \
      napi_throw_error(env, "ERR_NATIVE", "ots_sys: " #call " failed");  \
      return NULL;                                                       \
    }                                                                    \
  } while (0)

// A JS string as a malloc'd C string (NULL when not a string or out of memory).
char *ots_get_string(napi_env env, napi_value v, size_t *len_out);
// An Error like Node's system errors: code ERR_NATIVE_SYSCALL, errno (negative), syscall, path.
napi_value ots_errno_error(napi_env env, int err, const char *syscall, const char *path);
// Queue a thread-pool job; the promise its complete callback settles through *deferred.
napi_value ots_queue_job(napi_env env, const char *name, napi_async_execute_callback execute, napi_async_complete_callback complete,
                         void *data, napi_deferred *deferred, napi_async_work *work);
// The first n arguments, or false with a TypeError naming `usage` thrown.
bool ots_get_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv, const char *usage);
// A zeroed allocation, or NULL with an out-of-memory Error thrown.
// A Buffer over the malloc'd *p (which it then owns: *p becomes NULL), or a
// copy where external buffers are not allowed (the caller still frees *p).
bool ots_take_buffer(napi_env env, uint8_t **p, size_t len, napi_value *out);
// write(2) until all of it is written: 0 or an errno.
int ots_write_all(int fd, const void *data, size_t len);
// The whole regular file dirfd/path (O_NOFOLLOW|O_NONBLOCK: no symlink, FIFO or
// other non-regular file; EFBIG over `max`) in a malloc'd *out: 0, or an errno
// with *failed naming the step.
int ots_read_regular_at(int dirfd, const char *path, uint64_t max, uint8_t **out, size_t *len, const char **failed);
void *ots_calloc(napi_env env, size_t size);
// A boolean property, or `fallback` (also when it is not a boolean).
bool ots_get_bool_prop(napi_env env, napi_value obj, const char *name, bool fallback);
// A numeric property, or `fallback`.
int32_t ots_get_int_prop(napi_env env, napi_value obj, const char *name, int32_t fallback);
// The bytes of a Uint8Array (no reference taken: only for synchronous use).
bool ots_get_bytes_sync(napi_env env, napi_value v, struct iovec *out);

// Lowercase hex of `bytes` bytes at h into out; -1 on a non-hex digit.
int ots_parse_hex(const char *h, uint8_t *out, size_t bytes);
// A 64-digit hex checksum argument into out[32].
bool ots_checksum_arg(napi_env env, napi_value v, uint8_t *out);
// "a\0b\0" pairs packed in buf[0, len) as [[a, b], ...].
napi_value ots_pairs_array(napi_env env, const char *buf, size_t len);

// checkout.c
// Reading a metadata object: 0, an errno, or one of these.
#define OTS_ETOOBIG (-1)   // larger than OSTREE_MAX_METADATA_SIZE
#define OTS_ENOTREG (-2)   // not a regular file
#define OTS_ECORRUPT (-3)  // SHA-256 differs from its name (or a short read)
// Read objects/xx/rest.type (O_NOFOLLOW, at most 10 MiB) and verify its SHA-256; *out is malloc'd.
int ots_read_object(int objects_fd, const uint8_t *csum, const char *type, uint8_t **out, size_t *len);
const char *ots_read_error(int err);
void ots_hex(const uint8_t *csum, char *out65);
void ots_object_rel(const uint8_t *csum, const char *type, char *out, size_t cap);
napi_value ots_js_checkout_tree(napi_env env, napi_callback_info info);
napi_value ots_js_parse_dirtree(napi_env env, napi_callback_info info);
napi_value ots_js_parse_dirmeta(napi_env env, napi_callback_info info);
// bsdiff.c
napi_value ots_js_bsdiff(napi_env env, napi_callback_info info);
napi_value ots_js_bspatch(napi_env env, napi_callback_info info);
// prune.c
napi_value ots_js_prune_scan(napi_env env, napi_callback_info info);
napi_value ots_js_missing_scan(napi_env env, napi_callback_info info);
napi_value ots_js_execute_part(napi_env env, napi_callback_info info);
napi_value ots_js_fetch_objects(napi_env env, napi_callback_info info);
// native/delta_exec.c: the hashed header of a content object (u32 BE length, 4 zero bytes,
// (uuuusa(ayay)) with rdev 0) from its fields and canonical a(ayay) bytes; malloc'd.
uint8_t *ots_file_header(uint32_t uid, uint32_t gid, uint32_t mode, const uint8_t *target, size_t tlen, const struct iovec *x, size_t *len);
// native/ots_sys.c: what inflateVerify does, from a thread: inflate `compressed` to exactly
// `size` bytes, SHA-256 of `header` then the payload must be `expected` (hex), then create
// `path` (O_EXCL) with `chunks` (or the payload when nchunks is 0), the xattr, `mode` last.
// 0, an errno (> 0), or -1 when the content does not verify. Nothing is left on failure.
int ots_stage_filez(const char *path, const struct iovec *header, const struct iovec *compressed, uint64_t size, const char *expected,
                    struct iovec *chunks, size_t nchunks, int mode, const char *xname, const struct iovec *xvalue);
// native/bsdiff.c: NULL when `out` holds exactly `size` patched bytes, else why not.
const char *ots_bspatch_apply(const uint8_t *old, size_t oldsize, const uint8_t *p, size_t plen, uint8_t *out, size_t size);

#endif
