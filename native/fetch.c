// Content objects of a pull fetched off the main thread: one thread-pool job
// fetches a batch of objects/xx/rest.filez over one keep-alive HTTP/1.1
// connection (plain http only), and verifies and stages each one as
// inflateVerify does (archive header parsed here, inflate, SHA-256, the file
// created in the transaction's staging directory). Only the common, simple
// case is handled: 200 with a Content-Length body of at most `maxBody` bytes,
// a header without xattrs, a payload of at most `maxBody` bytes. A 200 it does
// not stage (xattrs, a mismatch, another layout) comes back as its body, a
// larger one as a file in staging, so the caller verifies it as its own
// fetches, without asking again; another status, chunked bodies and network
// errors are left to the caller, which fetches through undici with its
// retries and error messages.
//
//   fetchObjects({host, port, hostHeader, basePath, extraHeaders, checksums,
//                 stagingDir, archive, maxBody, timeoutMs})
//     -> Promise<{kind: 'staged' | 'body' | 'file' | 'status' | 'none', bytes, body?, file?, status?}[]>
#define _GNU_SOURCE
#include "ots_sys.h"
#include "tree_format.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_HEAD 16384

// ---- idle keep-alive connections, shared by the jobs of a process ---------

typedef struct {
  int fd;
  char key[80];
} Idle;

static pthread_mutex_t idle_lock = PTHREAD_MUTEX_INITIALIZER;
static Idle idle[16];
static size_t nidle;

static int take_idle(const char *key) {
  int fd = -1;
  pthread_mutex_lock(&idle_lock);
  for (size_t i = 0; i < nidle; i++) {
    if (strcmp(idle[i].key, key) == 0) {
      fd = idle[i].fd;
      idle[i] = idle[--nidle];
      break;
    }
  }
  pthread_mutex_unlock(&idle_lock);
  return fd;
}

static void give_idle(const char *key, int fd) {
  pthread_mutex_lock(&idle_lock);
  if (nidle < sizeof idle / sizeof idle[0]) {
    idle[nidle].fd = fd;
    snprintf(idle[nidle].key, sizeof idle[nidle].key, "%s", key);
    nidle++;
    fd = -1;
  }
  pthread_mutex_unlock(&idle_lock);
  if (fd >= 0) close(fd);
}

// ---- the job ---------------------------------------------------------------

// What became of one object: staged here (bytes received), or handed to the
// caller as the body / a file holding it (a 200 we did not stage: xattrs, a
// mismatch, a large body), or an HTTP status, or nothing (no usable answer).
enum { R_NONE, R_STAGED, R_BODY, R_FILE, R_STATUS };
typedef struct {
  int kind, status;
  double bytes;
  uint8_t *body;
  char *file;
} Result;

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  char host[64], key[80];
  int port;
  char *host_header, *base_path, *extra, *staging;
  char (*csums)[65];
  size_t n;
  int archive;
  size_t max_body;
  int timeout_ms;
  Result *result;
} FetchJob;

static int connect_to(const FetchJob *j) {
  struct sockaddr_storage ss;
  socklen_t len;
  memset(&ss, 0, sizeof ss);
  struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, j->host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)j->port);
    len = sizeof *v4;
  } else if (inet_pton(AF_INET6, j->host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)j->port);
    len = sizeof *v6;
  } else {
    return -1;
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct timeval tv = {j->timeout_ms / 1000, (j->timeout_ms % 1000) * 1000};
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static int send_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

// Read exactly n bytes: first what `have` holds past `pos`, then the socket.
static int recv_exact(int fd, uint8_t *out, size_t n, uint8_t *have, size_t *pos, size_t *len) {
  size_t got = 0;
  if (*pos < *len) {
    size_t k = *len - *pos < n ? *len - *pos : n;
    memcpy(out, have + *pos, k);
    *pos += k;
    got = k;
  }
  while (got < n) {
    ssize_t r = recv(fd, out + got, n - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    got += (size_t)r;
  }
  return 0;
}

// One response's status, Content-Length (-1: none) and whether the connection stays open.
// -1 on anything malformed or unsupported (chunked), -2 when the connection was closed
// before any byte (a kept-alive connection the server dropped): it must be closed either way.
static int read_head(int fd, uint8_t *buf, size_t *len, size_t *body_at, int *status, long long *clen, int *keep) {
  *len = 0;
  for (;;) {
    uint8_t *end = *len >= 4 ? memmem(buf, *len, "\r\n\r\n", 4) : NULL;
    if (end != NULL) {
      *body_at = (size_t)(end - buf) + 4;
      break;
    }
    if (*len == MAX_HEAD) return -1;
    ssize_t r = recv(fd, buf + *len, MAX_HEAD - *len, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return *len == 0 && (r == 0 || errno == ECONNRESET) ? -2 : -1;
    *len += (size_t)r;
  }
  // Status line: HTTP/1.1 200 (HTTP/1.0: the server closes after the body).
  char *p = (char *)buf, *stop = (char *)buf + *body_at - 4;
  if (stop - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ') return -1;
  *keep = p[7] == '1';
  if (p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9') return -1;
  *status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
  *clen = -1;
  char *line = memchr(p, '\n', (size_t)(stop - p));
  while (line != NULL && line < stop) {
    line++;
    char *eol = memchr(line, '\r', (size_t)(stop - line + 2));
    if (eol == NULL) return -1;
    char *colon = memchr(line, ':', (size_t)(eol - line));
    if (colon != NULL) {
      size_t nlen = (size_t)(colon - line);
      char *v = colon + 1;
      while (v < eol && (*v == ' ' || *v == '\t')) v++;
      size_t vlen = (size_t)(eol - v);
      while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t')) vlen--;
      if (nlen == 14 && strncasecmp(line, "content-length", 14) == 0) {
        if (vlen == 0 || vlen > 15 || *clen >= 0) return -1;  // empty, absurd or repeated
        long long x = 0;
        for (size_t i = 0; i < vlen; i++) {
          if (v[i] < '0' || v[i] > '9') return -1;
          x = x * 10 + (v[i] - '0');
        }
        *clen = x;
      } else if (nlen == 17 && strncasecmp(line, "transfer-encoding", 17) == 0) {
        return -1;
      } else if (nlen == 10 && strncasecmp(line, "connection", 10) == 0) {
        if (vlen >= 5 && memmem(v, vlen, "close", 5) != NULL) *keep = 0;
        if (vlen >= 10 && strncasecmp(v, "keep-alive", 10) == 0) *keep = 1;
      }
    }
    line = eol + 1;
    if (line + 1 >= stop) break;
  }
  return 0;
}

static uint64_t be64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

// Verify and stage one .filez (the body); 0 staged, -1 left to the caller.
static int stage(const FetchJob *j, const char *csum, const uint8_t *body, size_t n) {
  if (n < 8) return -1;
  size_t glen = be32(body);
  if (glen == 0 || glen > n - 8) return -1;
  const uint8_t *gv = body + 8;
  // (tuuuusa(ayay)) with no xattrs, in canonical form (as archiveHeaderDirect in content.ts).
  size_t w = glen <= 0xff ? 1 : glen <= 0xffff ? 2 : 4;
  if (glen < 25 + w) return -1;
  size_t end = 0;
  for (size_t i = 0; i < w; i++) end |= (size_t)gv[glen - w + i] << (8 * i);
  if (end != glen - w || gv[end - 1] != 0) return -1;
  const uint8_t *target = gv + 24;
  size_t tlen = end - 1 - 24;
  if (memchr(target, 0, tlen) != NULL || !ots_utf8_valid(target, tlen)) return -1;
  uint64_t size = be64(gv);
  uint32_t uid = be32(gv + 8), gid = be32(gv + 12), mode = be32(gv + 16), rdev = be32(gv + 20);
  uint32_t type = mode & 0170000u;
  int is_link = type == 0120000u;
  if (rdev != 0 || (type != 0100000u && !is_link) || (mode & ~(0170000u | 07777u)) != 0 || is_link != (tlen > 0) || (is_link && size != 0)
      || size > j->max_body)
    return -1;
  struct iovec none = {NULL, 0};
  size_t hlen = 0;
  uint8_t *header = ots_file_header(uid, gid, mode, target, tlen, &none, &hlen);
  if (header == NULL) return -1;
  struct iovec h = {header, hlen}, compressed = {(void *)(body + 8 + glen), n - 8 - glen};
  uint8_t meta[12], *linkbody = NULL;
  for (int i = 0; i < 4; i++) {
    meta[i] = (uint8_t)(uid >> (24 - 8 * i));
    meta[4 + i] = (uint8_t)(gid >> (24 - 8 * i));
    meta[8 + i] = (uint8_t)(mode >> (24 - 8 * i));
  }
  struct iovec xv = {meta, sizeof meta}, chunk = {NULL, 0};
  size_t nchunks = 0;
  int fmode;
  const char *xname = NULL;
  if (j->archive) {
    chunk = (struct iovec){(void *)body, n};
    nchunks = 1;
    fmode = 0644;
  } else if (is_link) {
    // bare-user: a symlink is a file holding its target (and a NUL), as Transaction.nativeLayout.
    if ((linkbody = malloc(tlen + 1)) == NULL) {
      free(header);
      return -1;
    }
    memcpy(linkbody, target, tlen);
    linkbody[tlen] = 0;
    chunk = (struct iovec){linkbody, tlen + 1};
    nchunks = 1;
    fmode = 0644;
    xname = "user.ostreemeta";
  } else {
    fmode = (int)((mode & 0775) | 0400);
    xname = "user.ostreemeta";
  }
  char path[4096];
  int plen = snprintf(path, sizeof path, "%s/%.2s/%s.%s", j->staging, csum, csum + 2, j->archive ? "filez" : "file");
  if (plen < 0 || (size_t)plen >= sizeof path) {
    free(header);
    free(linkbody);
    return -1;
  }
  int r = ots_stage_filez(path, &h, &compressed, size, csum, nchunks > 0 ? &chunk : NULL, nchunks, fmode, xname, xname != NULL ? &xv : NULL);
  if (r == ENOENT) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%.2s", j->staging, csum);
    if (mkdir(dir, 0755) == 0 || errno == EEXIST)
      r = ots_stage_filez(path, &h, &compressed, size, csum, nchunks > 0 ? &chunk : NULL, nchunks, fmode, xname, xname != NULL ? &xv : NULL);
  }
  free(header);
  free(linkbody);
  return r == 0 ? 0 : -1;
}

static void fetch_execute(napi_env env, void *data) {
  (void)env;
  FetchJob *j = data;
  uint8_t *head = malloc(MAX_HEAD);
  size_t reqcap = strlen(j->base_path) + strlen(j->host_header) + strlen(j->extra) + 256;
  char *req = malloc(reqcap);
  int fd = take_idle(j->key), fresh = 0;
  for (size_t i = 0; i < j->n && head != NULL && req != NULL; i++) {
    const char *c = j->csums[i];
    int len = snprintf(req, reqcap, "GET %sobjects/%.2s/%s.filez HTTP/1.1\r\nHost: %s\r\n%s\r\n", j->base_path, c, c + 2, j->host_header, j->extra);
    if (len < 0 || (size_t)len >= reqcap) break;
    // A kept-alive connection the server has closed meanwhile fails on first use: one fresh retry.
    int status = 0, keep = 0, h = -1;
    long long clen = -1;
    size_t hlen = 0, at = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
      if (fd < 0) {
        if ((fd = connect_to(j)) < 0) goto done;  // no server: the rest goes through undici
        fresh = 1;
      }
      h = send_all(fd, req, (size_t)len) == 0 ? read_head(fd, head, &hlen, &at, &status, &clen, &keep) : -2;
      if (h == 0) break;
      close(fd);
      fd = -1;
      if (h == -1 || fresh) break;  // a malformed or unsupported answer, or a fresh connection that failed
    }
    fresh = 0;
    if (h != 0) continue;  // this one goes through undici; the next gets a new connection
    Result *res = &j->result[i];
    if (clen < 0 || (status != 200 && clen > 65536)) {
      close(fd);  // no way (or no point) to read past this body
      fd = -1;
      if (status != 200) res->kind = R_STATUS, res->status = status;
      continue;
    }
    if (status == 200 && (size_t)clen > j->max_body) {
      // Large: streamed into a file in staging for the caller, which verifies it as it does its own.
      char path[4096];
      int plen = snprintf(path, sizeof path, "%s/ots-native-fetch-%s.filez", j->staging, c);
      int out = plen > 0 && (size_t)plen < sizeof path ? open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600) : -1;
      int good = out >= 0;
      uint8_t *chunk = good ? malloc(1 << 16) : NULL;
      size_t left = (size_t)clen;
      good = good && chunk != NULL;
      if (good && at < hlen) {
        size_t k = hlen - at < left ? hlen - at : left;
        good = ots_write_all(out, head + at, k) == 0;
        at += k;
        left -= k;
      }
      while (good && left > 0) {
        ssize_t r = recv(fd, chunk, left < (1 << 16) ? left : (1 << 16), 0);
        if (r < 0 && errno == EINTR) continue;
        good = r > 0 && ots_write_all(out, chunk, (size_t)r) == 0;
        if (good) left -= (size_t)r;
      }
      free(chunk);
      if (out >= 0 && close(out) != 0) good = 0;
      if (good && at == hlen) {
        res->kind = R_FILE;
        res->bytes = (double)clen;
        res->file = strdup(path);
      } else {
        if (out >= 0) unlink(path);
        close(fd);
        fd = -1;
        continue;
      }
      if (!keep) {
        close(fd);
        fd = -1;
      }
      continue;
    }
    uint8_t *body = malloc(clen > 0 ? (size_t)clen : 1);
    if (body == NULL || recv_exact(fd, body, (size_t)clen, head, &at, &hlen) != 0 || at != hlen) {
      // A short body (the server died or cut it), or bytes past it: not a connection to reuse.
      free(body);
      close(fd);
      fd = -1;
      continue;
    }
    if (status != 200) {
      res->kind = R_STATUS;
      res->status = status;
      free(body);
    } else if (stage(j, c, body, (size_t)clen) == 0) {
      res->kind = R_STAGED;
      res->bytes = (double)clen;
      free(body);
    } else {
      res->kind = R_BODY;
      res->bytes = (double)clen;
      res->body = body;
    }
    if (!keep) {
      close(fd);
      fd = -1;
    }
  }
done:
  if (fd >= 0) give_idle(j->key, fd);
  free(head);
  free(req);
}

static void fetch_free(FetchJob *j) {
  free(j->host_header);
  free(j->base_path);
  free(j->extra);
  free(j->staging);
  free(j->csums);
  free(j->result);
  free(j);
}

static void fetch_complete(napi_env env, napi_status status, void *data) {
  (void)status;
  FetchJob *j = data;
  napi_value list, v, o;
  static const char *kinds[] = {"none", "staged", "body", "file", "status"};
  napi_create_array_with_length(env, j->n, &list);
  for (size_t i = 0; i < j->n; i++) {
    Result *r = &j->result[i];
    napi_create_object(env, &o);
    napi_create_string_utf8(env, kinds[r->kind], NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, o, "kind", v);
    napi_create_double(env, r->bytes, &v);
    napi_set_named_property(env, o, "bytes", v);
    if (r->kind == R_STATUS) {
      napi_create_int32(env, r->status, &v);
      napi_set_named_property(env, o, "status", v);
    }
    if (r->kind == R_BODY && ots_take_buffer(env, &r->body, (size_t)r->bytes, &v)) napi_set_named_property(env, o, "body", v);
    if (r->kind == R_FILE) {
      napi_create_string_utf8(env, r->file, NAPI_AUTO_LENGTH, &v);
      napi_set_named_property(env, o, "file", v);
    }
    napi_set_element(env, list, (uint32_t)i, o);
    free(r->body);
    free(r->file);
  }
  napi_resolve_deferred(env, j->deferred, list);
  napi_delete_async_work(env, j->work);
  fetch_free(j);
}

static char *string_prop(napi_env env, napi_value obj, const char *name) {
  napi_value v;
  return napi_get_named_property(env, obj, name, &v) == napi_ok ? ots_get_string(env, v, NULL) : NULL;
}

napi_value ots_js_fetch_objects(napi_env env, napi_callback_info info) {
  napi_value argv[1], v, list;
  const char *usage = "fetchObjects({host, port, hostHeader, basePath, extraHeaders, checksums, stagingDir, archive, maxBody, timeoutMs})";
  if (!ots_get_args(env, info, 1, argv, usage)) return NULL;
  FetchJob *j = ots_calloc(env, sizeof *j);
  if (j == NULL) return NULL;
  char *host = string_prop(env, argv[0], "host");
  uint32_t n = 0;
  double max = 0;
  bool archive = false;
  bool ok = host != NULL && strlen(host) < sizeof j->host && (j->host_header = string_prop(env, argv[0], "hostHeader")) != NULL
            && (j->base_path = string_prop(env, argv[0], "basePath")) != NULL && (j->extra = string_prop(env, argv[0], "extraHeaders")) != NULL
            && (j->staging = string_prop(env, argv[0], "stagingDir")) != NULL
            && strpbrk(j->host_header, "\r\n") == NULL && strpbrk(j->base_path, "\r\n ") == NULL
            && (j->port = ots_get_int_prop(env, argv[0], "port", -1)) > 0 && j->port < 65536
            && (j->timeout_ms = ots_get_int_prop(env, argv[0], "timeoutMs", -1)) > 0
            && napi_get_named_property(env, argv[0], "maxBody", &v) == napi_ok && napi_get_value_double(env, v, &max) == napi_ok && max > 0
            && napi_get_named_property(env, argv[0], "checksums", &list) == napi_ok && napi_get_array_length(env, list, &n) == napi_ok
            && (j->csums = calloc(n + 1, sizeof *j->csums)) != NULL && (j->result = calloc(n + 1, sizeof *j->result)) != NULL;
  archive = ots_get_bool_prop(env, argv[0], "archive", false);
  for (uint32_t i = 0; ok && i < n; i++) {
    napi_value c;
    uint8_t raw[32];
    ok = napi_get_element(env, list, i, &c) == napi_ok && ots_checksum_arg(env, c, raw);
    if (ok) ots_hex(raw, j->csums[i]);
  }
  if (ok) {
    snprintf(j->host, sizeof j->host, "%s", host);
    snprintf(j->key, sizeof j->key, "%s:%d", host, j->port);
    j->n = n;
    j->archive = archive;
    j->max_body = (size_t)max;
  }
  free(host);
  if (!ok) {
    fetch_free(j);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
    return NULL;
  }
  return ots_queue_job(env, "ots_fetch_objects", fetch_execute, fetch_complete, j, &j->deferred, &j->work);
}
