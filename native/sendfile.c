/*
 * Samsa's one native piece: zero-copy transfer of a file range to a socket
 * (Linux sendfile(2)), the way Kafka serves fetches (FileChannel.transferTo).
 * Node has no binding for it. Without it a Fetch costs a pread into memory
 * and a write from memory: two copies per byte on the broker's main thread.
 *
 * sendfile(outFd, inFd, position, length) -> number
 *   Sends at most `length` bytes of `inFd` from `position` to the socket
 *   `outFd` without blocking. Returns the bytes sent (less than `length` when
 *   the socket's send buffer filled up, or the file ended), or -errno when
 *   nothing could be sent because of an error other than EAGAIN.
 *
 * Built by scripts/build-native.mjs against Node-API (no node-gyp, no
 * downloads); src/server/sendfile.ts loads it and falls back to pread + write
 * when it is missing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <sys/sendfile.h>
#include <sys/types.h>
#include <node_api.h>

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

static napi_value samsa_sendfile(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) {
    return throw_type(env, "sendfile(outFd, inFd, position, length): four numbers expected");
  }
  int32_t out_fd, in_fd;
  int64_t position, length;
  if (napi_get_value_int32(env, argv[0], &out_fd) != napi_ok ||
      napi_get_value_int32(env, argv[1], &in_fd) != napi_ok ||
      napi_get_value_int64(env, argv[2], &position) != napi_ok ||
      napi_get_value_int64(env, argv[3], &length) != napi_ok) {
    return throw_type(env, "sendfile(outFd, inFd, position, length): four numbers expected");
  }
  if (out_fd < 0 || in_fd < 0 || position < 0 || length < 0) {
    return throw_type(env, "sendfile: negative descriptor, position or length");
  }
  off_t off = (off_t)position;
  int64_t sent = 0;
  int64_t result;
  for (;;) {
    if (sent >= length) {
      result = sent;
      break;
    }
    int64_t want = length - sent;
    if (want > 0x7ffff000) want = 0x7ffff000; /* Linux's per-call maximum */
    ssize_t n = sendfile(out_fd, in_fd, &off, (size_t)want);
    if (n > 0) {
      sent += n;
      continue;
    }
    if (n == 0) { /* end of file */
      result = sent;
      break;
    }
    if (errno == EINTR) continue;
    result = (errno == EAGAIN || errno == EWOULDBLOCK || sent > 0) ? sent : -(int64_t)errno;
    break;
  }
  napi_value ret;
  napi_create_int64(env, result, &ret);
  return ret;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "sendfile", NAPI_AUTO_LENGTH, samsa_sendfile, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "sendfile", fn) != napi_ok) return NULL;
  return exports;
}
