// tunpf's Node-API addon: TUN devices (open, offload, MTU, link up), batched
// reads and writes into caller-owned buffers, and a libuv poll that tells JS
// when a device is readable. Plain C over node_api.h; errors become JS
// exceptions with the errno name in `code` and the operation in `syscall`.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h> /* before linux/if_tun.h, which must not pull in linux/if.h */
#include <linux/if_tun.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, NULL, "internal Node-API error: " #call); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

/* Throws an Error like Node's own: message "OP NAME: strerror", code "EXXX", syscall "OP". */
static napi_value throw_errno(napi_env env, int err, const char *op, const char *name) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s%s%s: %s", op, name ? " " : "", name ? name : "", strerror(err));
  napi_value m, code, sys, error;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_string_utf8(env, uv_err_name(-err), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, op, NAPI_AUTO_LENGTH, &sys);
  napi_create_error(env, code, m, &error);
  napi_set_named_property(env, error, "syscall", sys);
  napi_value errnum;
  napi_create_int32(env, -err, &errnum);
  napi_set_named_property(env, error, "errno", errnum);
  napi_throw(env, error);
  return NULL;
}

static int get_int(napi_env env, napi_value v, int32_t *out) { return napi_get_value_int32(env, v, out) == napi_ok; }

static int get_bool_prop(napi_env env, napi_value obj, const char *key, int dflt) {
  bool has = false;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return dflt;
  napi_value v;
  bool b = false;
  napi_get_named_property(env, obj, key, &v);
  if (napi_get_value_bool(env, v, &b) != napi_ok) return dflt;
  return b;
}

/* tunOpen(name, { vnetHdr, multiQueue, offload }) -> { fd, name, vnetHdrSize, offload } */
static napi_value tun_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[IFNAMSIZ] = {0};
  size_t len = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "tunOpen: name must be a string");
    return NULL;
  }
  int vnet = argc > 1 ? get_bool_prop(env, argv[1], "vnetHdr", 1) : 1;
  int mq = argc > 1 ? get_bool_prop(env, argv[1], "multiQueue", 0) : 0;
  int offload = argc > 1 ? get_bool_prop(env, argv[1], "offload", 1) : 1;

  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, errno, "open /dev/net/tun", NULL);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0) | (mq ? IFF_MULTI_QUEUE : 0);
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, e, "TUNSETIFF", name);
  }
  int hdr = 0;
  unsigned int flags = 0;
  if (vnet) {
    hdr = 10; /* struct virtio_net_hdr, without num_buffers */
    if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) {
      int e = errno;
      close(fd);
      return throw_errno(env, e, "TUNSETVNETHDRSZ", name);
    }
    if (offload) {
      /* USO arrived in Linux 6.2: try with it, then without. */
      flags = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6;
      if (ioctl(fd, TUNSETOFFLOAD, flags) < 0) {
        flags = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
        if (ioctl(fd, TUNSETOFFLOAD, flags) < 0) {
          int e = errno;
          close(fd);
          return throw_errno(env, e, "TUNSETOFFLOAD", name);
        }
      }
    }
  }
  napi_value out, v;
  CHECK(napi_create_object(env, &out));
  CHECK(napi_create_int32(env, fd, &v));
  CHECK(napi_set_named_property(env, out, "fd", v));
  CHECK(napi_create_string_utf8(env, ifr.ifr_name, NAPI_AUTO_LENGTH, &v));
  CHECK(napi_set_named_property(env, out, "name", v));
  CHECK(napi_create_int32(env, hdr, &v));
  CHECK(napi_set_named_property(env, out, "vnetHdrSize", v));
  CHECK(napi_create_uint32(env, flags, &v));
  CHECK(napi_set_named_property(env, out, "offload", v));
  return out;
}

/* ifconfig(name, mtu, up): sets the MTU (when > 0) and brings the link up or down. */
static napi_value if_config(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[IFNAMSIZ] = {0};
  size_t len = 0;
  int32_t mtu = 0;
  bool up = true;
  if (argc < 3 || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok || !get_int(env, argv[1], &mtu) ||
      napi_get_value_bool(env, argv[2], &up) != napi_ok) {
    napi_throw_type_error(env, NULL, "ifconfig(name: string, mtu: number, up: boolean)");
    return NULL;
  }
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return throw_errno(env, errno, "socket", NULL);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (mtu > 0) {
    ifr.ifr_mtu = mtu;
    if (ioctl(s, SIOCSIFMTU, &ifr) < 0) {
      int e = errno;
      close(s);
      return throw_errno(env, e, "SIOCSIFMTU", name);
    }
  }
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
    int e = errno;
    close(s);
    return throw_errno(env, e, "SIOCGIFFLAGS", name);
  }
  if (up) ifr.ifr_flags |= IFF_UP;
  else ifr.ifr_flags &= ~IFF_UP;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
    int e = errno;
    close(s);
    return throw_errno(env, e, "SIOCSIFFLAGS", name);
  }
  close(s);
  return NULL;
}

/*
 * readBatch(fd, buf, slotSize, maxPackets, lengths) -> count
 * Reads every packet that is ready, up to maxPackets, packet k into
 * buf[k * slotSize ...], its length into lengths[k]. Stops at EAGAIN.
 */
static napi_value read_batch(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, slot, max;
  void *buf = NULL, *lens = NULL;
  size_t buflen = 0, lenslen = 0;
  napi_typedarray_type lt;
  napi_value ab;
  size_t off;
  if (argc < 5 || !get_int(env, argv[0], &fd) || napi_get_buffer_info(env, argv[1], &buf, &buflen) != napi_ok || !get_int(env, argv[2], &slot) ||
      !get_int(env, argv[3], &max) || napi_get_typedarray_info(env, argv[4], &lt, &lenslen, &lens, &ab, &off) != napi_ok || lt != napi_uint32_array) {
    napi_throw_type_error(env, NULL, "readBatch(fd, buf: Buffer, slotSize, maxPackets, lengths: Uint32Array)");
    return NULL;
  }
  if (slot <= 0 || max < 0 || (size_t)max > lenslen || (size_t)slot * (size_t)max > buflen) {
    napi_throw_range_error(env, NULL, "readBatch: buffer or lengths too small for maxPackets slots");
    return NULL;
  }
  uint32_t *lengths = lens;
  int32_t n = 0;
  while (n < max) {
    ssize_t r = read(fd, (char *)buf + (size_t)n * slot, slot);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (n > 0) break; /* report the error on the next call */
      return throw_errno(env, errno, "read", NULL);
    }
    lengths[n++] = (uint32_t)r;
  }
  napi_value out;
  CHECK(napi_create_int32(env, n, &out));
  return out;
}

/*
 * writeBatch(fd, buf, offsets, lengths, count) -> written
 * Writes count packets from buf. A packet the kernel refuses (EINVAL, a
 * malformed GSO header) is skipped and counted as not written; EAGAIN stops.
 */
static napi_value write_batch(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, count;
  void *buf = NULL, *offs = NULL, *lens = NULL;
  size_t buflen = 0, offslen = 0, lenslen = 0, off;
  napi_typedarray_type t1, t2;
  napi_value ab;
  if (argc < 5 || !get_int(env, argv[0], &fd) || napi_get_buffer_info(env, argv[1], &buf, &buflen) != napi_ok ||
      napi_get_typedarray_info(env, argv[2], &t1, &offslen, &offs, &ab, &off) != napi_ok ||
      napi_get_typedarray_info(env, argv[3], &t2, &lenslen, &lens, &ab, &off) != napi_ok || t1 != napi_uint32_array || t2 != napi_uint32_array ||
      !get_int(env, argv[4], &count)) {
    napi_throw_type_error(env, NULL, "writeBatch(fd, buf: Buffer, offsets: Uint32Array, lengths: Uint32Array, count)");
    return NULL;
  }
  if (count < 0 || (size_t)count > offslen || (size_t)count > lenslen) {
    napi_throw_range_error(env, NULL, "writeBatch: count beyond offsets or lengths");
    return NULL;
  }
  uint32_t *o = offs, *l = lens;
  int32_t written = 0;
  for (int32_t k = 0; k < count; k++) {
    if ((size_t)o[k] + l[k] > buflen) {
      napi_throw_range_error(env, NULL, "writeBatch: a packet lies beyond the buffer");
      return NULL;
    }
    ssize_t r;
    do r = write(fd, (char *)buf + o[k], l[k]);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINVAL || errno == EMSGSIZE) continue;
      return throw_errno(env, errno, "write", NULL);
    }
    written++;
  }
  napi_value out;
  CHECK(napi_create_int32(env, written, &out));
  return out;
}

/* A readable-fd watcher: calls a JS function (no arguments) whenever the fd is readable. */
typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  int closing;
  int refs; /* freed when both the uv handle is closed and the JS handle is collected */
} watcher_t;

static void on_readable(uv_poll_t *p, int status, int events) {
  watcher_t *w = p->data;
  (void)events;
  if (w->closing) return;
  napi_handle_scope scope;
  napi_open_handle_scope(w->env, &scope);
  napi_value cb, global, err = NULL;
  napi_get_reference_value(w->env, w->callback, &cb);
  napi_get_global(w->env, &global);
  if (status < 0) napi_create_int32(w->env, status, &err);
  napi_value args[1];
  size_t n = 0;
  if (err) args[n++] = err;
  napi_value result;
  if (napi_make_callback(w->env, NULL, global, cb, n, args, &result) == napi_pending_exception) {
    napi_value ex;
    napi_get_and_clear_last_exception(w->env, &ex);
    napi_fatal_exception(w->env, ex);
  }
  napi_close_handle_scope(w->env, scope);
}

static void on_closed(uv_handle_t *h) {
  watcher_t *w = h->data;
  if (--w->refs == 0) free(w);
}

static void stop_watcher(napi_env env, watcher_t *w) {
  if (w->closing) return;
  w->closing = 1;
  uv_poll_stop(&w->poll);
  napi_delete_reference(env, w->callback);
  uv_close((uv_handle_t *)&w->poll, on_closed);
}

static void watcher_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  watcher_t *w = data;
  stop_watcher(env, w);
  if (--w->refs == 0) free(w);
}

/* watch(fd, callback) -> handle (an external); unwatch(handle) stops it. */
static napi_value watch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  napi_valuetype t;
  if (argc < 2 || !get_int(env, argv[0], &fd) || napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, NULL, "watch(fd, callback)");
    return NULL;
  }
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  watcher_t *w = calloc(1, sizeof *w);
  if (!w) return throw_errno(env, ENOMEM, "watch", NULL);
  w->env = env;
  w->refs = 2;
  int rc = uv_poll_init(loop, &w->poll, fd);
  if (rc < 0) {
    free(w);
    return throw_errno(env, -rc, "uv_poll_init", NULL);
  }
  w->poll.data = w;
  CHECK(napi_create_reference(env, argv[1], 1, &w->callback));
  rc = uv_poll_start(&w->poll, UV_READABLE, on_readable);
  if (rc < 0) {
    w->refs = 1;
    napi_delete_reference(env, w->callback);
    w->closing = 1;
    uv_close((uv_handle_t *)&w->poll, on_closed);
    return throw_errno(env, -rc, "uv_poll_start", NULL);
  }
  napi_value handle;
  CHECK(napi_create_external(env, w, watcher_finalize, NULL, &handle));
  return handle;
}

static napi_value unwatch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  watcher_t *w = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], (void **)&w) != napi_ok || !w) {
    napi_throw_type_error(env, NULL, "unwatch(handle)");
    return NULL;
  }
  stop_watcher(env, w);
  return NULL;
}

static napi_value close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  if (argc < 1 || !get_int(env, argv[0], &fd)) {
    napi_throw_type_error(env, NULL, "close(fd)");
    return NULL;
  }
  if (close(fd) < 0) return throw_errno(env, errno, "close", NULL);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"tunOpen", NULL, tun_open, NULL, NULL, NULL, napi_default, NULL},
      {"ifconfig", NULL, if_config, NULL, NULL, NULL, napi_default, NULL},
      {"readBatch", NULL, read_batch, NULL, NULL, NULL, napi_default, NULL},
      {"writeBatch", NULL, write_batch, NULL, NULL, NULL, napi_default, NULL},
      {"watch", NULL, watch, NULL, NULL, NULL, napi_default, NULL},
      {"unwatch", NULL, unwatch, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_fd, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
