// tunpf's Node-API addon: TUN devices (open, offload, MTU, link up), batched
// reads and writes into caller-owned buffers, and a libuv poll that tells JS
// when a device is readable. Plain C over node_api.h; errors become JS
// exceptions with the errno name in `code` and the operation in `syscall`.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <net/if.h> /* before linux/if_tun.h, which must not pull in linux/if.h */
#include <netinet/in.h>
#include <linux/if_tun.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>
#include <linux/filter.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
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


/*
 * The reader-thread alternative to watch(): a thread blocks in poll() on the
 * fd and hands "readable" to the main thread through a thread-safe function;
 * it then waits until JS has read the batch before polling again. Kept to be
 * measured against the libuv poll (bench:net, --wakeup thread).
 */
typedef struct {
  pthread_t thread;
  int fd;
  int stopfd;
  int ackfd;
  napi_threadsafe_function tsfn;
  atomic_int stopping;
  int joined;
} thread_watcher_t;

static void *reader_thread(void *arg) {
  thread_watcher_t *w = arg;
  struct pollfd p[2] = {{.fd = w->fd, .events = POLLIN}, {.fd = w->stopfd, .events = POLLIN}};
  while (!atomic_load(&w->stopping)) {
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[1].revents) break;
    if (!(p[0].revents & POLLIN)) continue;
    if (napi_call_threadsafe_function(w->tsfn, NULL, napi_tsfn_blocking) != napi_ok) break;
    /* wait for JS to have read what is ready, or for stop */
    struct pollfd q[2] = {{.fd = w->ackfd, .events = POLLIN}, {.fd = w->stopfd, .events = POLLIN}};
    while (poll(q, 2, -1) < 0 && errno == EINTR) {
    }
    if (q[1].revents) break;
    uint64_t v;
    if (read(w->ackfd, &v, sizeof v) < 0) {
    }
  }
  return NULL;
}

static void thread_call_js(napi_env env, napi_value cb, void *context, void *data) {
  thread_watcher_t *w = context;
  (void)data;
  if (env && cb && !atomic_load(&w->stopping)) {
    napi_value global, result;
    napi_get_global(env, &global);
    if (napi_call_function(env, global, cb, 0, NULL, &result) == napi_pending_exception) {
      napi_value ex;
      napi_get_and_clear_last_exception(env, &ex);
      napi_fatal_exception(env, ex);
    } else {
      /* false: JS acknowledges later (ackThread), after the event loop has had a turn */
      napi_valuetype t;
      bool b = true;
      if (napi_typeof(env, result, &t) == napi_ok && t == napi_boolean && napi_get_value_bool(env, result, &b) == napi_ok && !b) return;
    }
  }
  uint64_t one = 1;
  if (write(w->ackfd, &one, sizeof one) < 0) {
  }
}

static void thread_watcher_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  thread_watcher_t *w = data;
  if (!w->joined) {
    atomic_store(&w->stopping, 1);
    uint64_t one = 1;
    if (write(w->stopfd, &one, sizeof one) < 0) {
    }
    pthread_join(w->thread, NULL);
    napi_release_threadsafe_function(w->tsfn, napi_tsfn_abort);
  }
  close(w->stopfd);
  close(w->ackfd);
  free(w);
}

/* watchThread(fd, callback) -> handle; unwatchThread(handle). */
static napi_value watch_thread(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  napi_valuetype t;
  if (argc < 2 || !get_int(env, argv[0], &fd) || napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, NULL, "watchThread(fd, callback)");
    return NULL;
  }
  thread_watcher_t *w = calloc(1, sizeof *w);
  if (!w) return throw_errno(env, ENOMEM, "watchThread", NULL);
  w->fd = fd;
  w->stopfd = eventfd(0, EFD_CLOEXEC);
  w->ackfd = eventfd(0, EFD_CLOEXEC);
  if (w->stopfd < 0 || w->ackfd < 0) {
    int e = errno;
    free(w);
    return throw_errno(env, e, "eventfd", NULL);
  }
  napi_value name;
  CHECK(napi_create_string_utf8(env, "tunpf-reader", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_create_threadsafe_function(env, argv[1], NULL, name, 1, 1, NULL, NULL, w, thread_call_js, &w->tsfn));
  int rc = pthread_create(&w->thread, NULL, reader_thread, w);
  if (rc != 0) {
    napi_release_threadsafe_function(w->tsfn, napi_tsfn_abort);
    free(w);
    return throw_errno(env, rc, "pthread_create", NULL);
  }
  napi_value handle;
  CHECK(napi_create_external(env, w, thread_watcher_finalize, NULL, &handle));
  return handle;
}

/*
 * ackThread(handle): lets the reader thread look for the next batch. The
 * callback returns false to acknowledge later: Node runs thread-safe calls in
 * a loop of up to 1000 without returning to the event loop, so under full
 * load the timers (CARP) would wait that long otherwise.
 */
static napi_value ack_thread(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  thread_watcher_t *w = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], (void **)&w) != napi_ok || !w) {
    napi_throw_type_error(env, NULL, "ackThread(handle)");
    return NULL;
  }
  uint64_t one = 1;
  if (!w->joined && write(w->ackfd, &one, sizeof one) < 0) return throw_errno(env, errno, "write", "ackfd");
  return NULL;
}

static napi_value unwatch_thread(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  thread_watcher_t *w = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], (void **)&w) != napi_ok || !w) {
    napi_throw_type_error(env, NULL, "unwatchThread(handle)");
    return NULL;
  }
  if (!w->joined) {
    atomic_store(&w->stopping, 1);
    uint64_t one = 1;
    if (write(w->stopfd, &one, sizeof one) < 0) {
    }
    pthread_join(w->thread, NULL);
    napi_release_threadsafe_function(w->tsfn, napi_tsfn_abort);
    w->joined = 1;
  }
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


/* ---- raw IP sockets (CARP: protocol 112, pfsync: 240) ---------------------------------- */

static int get_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type t;
    napi_value ab;
    size_t off;
    void *d;
    if (napi_get_typedarray_info(env, v, &t, len, &d, &ab, &off) != napi_ok || t != napi_uint8_array) return 0;
    *data = d;
    return 1;
  }
  return napi_get_buffer_info(env, v, (void **)data, len) == napi_ok;
}

/* rawOpen(af, protocol) -> fd: non-blocking, TTL / hop limit 255, TTL and ingress interface reported on receive. */
static napi_value raw_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t af, proto;
  if (argc < 2 || !get_int(env, argv[0], &af) || !get_int(env, argv[1], &proto) || (af != 4 && af != 6)) {
    napi_throw_type_error(env, NULL, "rawOpen(af: 4 | 6, protocol: number)");
    return NULL;
  }
  int fd = socket(af == 4 ? AF_INET : AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
  if (fd < 0) return throw_errno(env, errno, "socket", "SOCK_RAW");
  int one = 1, ttl = 255;
  int rc;
  if (af == 4) {
    rc = setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) | setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &one, sizeof one) |
         setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl) | setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
  } else {
    rc = setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one) | setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof one) |
         setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl) | setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &ttl, sizeof ttl);
  }
  if (rc != 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, e, "setsockopt", "raw socket options");
  }
  napi_value out;
  CHECK(napi_create_int32(env, fd, &out));
  return out;
}

/* rawBindDevice(fd, ifname): only packets of that interface, sent out of it. */
static napi_value raw_bind_device(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  char name[IFNAMSIZ] = {0};
  size_t len;
  if (argc < 2 || !get_int(env, argv[0], &fd) || napi_get_value_string_utf8(env, argv[1], name, sizeof name, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "rawBindDevice(fd, ifname)");
    return NULL;
  }
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, strlen(name)) < 0) return throw_errno(env, errno, "SO_BINDTODEVICE", name);
  return NULL;
}

/* rawMulticast(fd, af, group, ifindex, join): joins or leaves a group; join also makes ifindex the multicast send interface. */
static napi_value raw_multicast(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, af, ifindex;
  bool join;
  uint8_t *group;
  size_t glen;
  if (argc < 5 || !get_int(env, argv[0], &fd) || !get_int(env, argv[1], &af) || !get_bytes(env, argv[2], &group, &glen) || !get_int(env, argv[3], &ifindex) ||
      napi_get_value_bool(env, argv[4], &join) != napi_ok || (af == 4 ? glen != 4 : glen != 16)) {
    napi_throw_type_error(env, NULL, "rawMulticast(fd, af, group: Uint8Array(4|16), ifindex, join)");
    return NULL;
  }
  if (af == 4) {
    struct ip_mreqn m;
    memset(&m, 0, sizeof m);
    memcpy(&m.imr_multiaddr, group, 4);
    m.imr_ifindex = ifindex;
    if (setsockopt(fd, IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, &m, sizeof m) < 0)
      return throw_errno(env, errno, join ? "IP_ADD_MEMBERSHIP" : "IP_DROP_MEMBERSHIP", NULL);
    if (join && setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &m, sizeof m) < 0) return throw_errno(env, errno, "IP_MULTICAST_IF", NULL);
  } else {
    struct ipv6_mreq m;
    memcpy(&m.ipv6mr_multiaddr, group, 16);
    m.ipv6mr_interface = ifindex;
    if (setsockopt(fd, IPPROTO_IPV6, join ? IPV6_JOIN_GROUP : IPV6_LEAVE_GROUP, &m, sizeof m) < 0)
      return throw_errno(env, errno, join ? "IPV6_JOIN_GROUP" : "IPV6_LEAVE_GROUP", NULL);
    if (join && setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof ifindex) < 0) return throw_errno(env, errno, "IPV6_MULTICAST_IF", NULL);
  }
  return NULL;
}

/* rawMulticastLoop(fd, af, on): whether our own multicast comes back to us. */
static napi_value raw_multicast_loop(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, af;
  bool on;
  if (argc < 3 || !get_int(env, argv[0], &fd) || !get_int(env, argv[1], &af) || napi_get_value_bool(env, argv[2], &on) != napi_ok) {
    napi_throw_type_error(env, NULL, "rawMulticastLoop(fd, af, on)");
    return NULL;
  }
  int v = on ? 1 : 0;
  unsigned char c = on ? 1 : 0;
  int rc = af == 4 ? setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &c, sizeof c) : setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &v, sizeof v);
  if (rc < 0) return throw_errno(env, errno, "MULTICAST_LOOP", NULL);
  return NULL;
}

/* rawBindAddress(fd, af, address): the source address of what we send. */
static napi_value raw_bind_address(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, af;
  uint8_t *a;
  size_t alen;
  if (argc < 3 || !get_int(env, argv[0], &fd) || !get_int(env, argv[1], &af) || !get_bytes(env, argv[2], &a, &alen) || (af == 4 ? alen != 4 : alen != 16)) {
    napi_throw_type_error(env, NULL, "rawBindAddress(fd, af, address: Uint8Array(4|16))");
    return NULL;
  }
  int rc;
  if (af == 4) {
    struct sockaddr_in sa = {.sin_family = AF_INET};
    memcpy(&sa.sin_addr, a, 4);
    rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
  } else {
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6};
    memcpy(&sa.sin6_addr, a, 16);
    rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
  }
  if (rc < 0) return throw_errno(env, errno, "bind", NULL);
  return NULL;
}

/* rawSend(fd, af, destination, data, ifindex) -> bytes sent. For IPv6 link-local or multicast destinations ifindex is the scope. */
static napi_value raw_send(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, af, ifindex = 0;
  uint8_t *dst, *data;
  size_t dlen, len;
  if (argc < 4 || !get_int(env, argv[0], &fd) || !get_int(env, argv[1], &af) || !get_bytes(env, argv[2], &dst, &dlen) || !get_bytes(env, argv[3], &data, &len) ||
      (af == 4 ? dlen != 4 : dlen != 16) || (argc > 4 && !get_int(env, argv[4], &ifindex))) {
    napi_throw_type_error(env, NULL, "rawSend(fd, af, destination: Uint8Array(4|16), data: Uint8Array, ifindex?)");
    return NULL;
  }
  ssize_t r;
  if (af == 4) {
    struct sockaddr_in sa = {.sin_family = AF_INET};
    memcpy(&sa.sin_addr, dst, 4);
    r = sendto(fd, data, len, 0, (struct sockaddr *)&sa, sizeof sa);
  } else {
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_scope_id = (uint32_t)ifindex};
    memcpy(&sa.sin6_addr, dst, 16);
    r = sendto(fd, data, len, 0, (struct sockaddr *)&sa, sizeof sa);
  }
  if (r < 0) return throw_errno(env, errno, "sendto", NULL);
  napi_value out;
  CHECK(napi_create_int32(env, (int32_t)r, &out));
  return out;
}

/*
 * rawRecv(fd, buf, meta) -> length, or -1 when nothing is waiting.
 * meta (Int32Array(3)): [ttl or hop limit, ingress ifindex, source length];
 * src (Uint8Array(16)) receives the source address. IPv4 data includes the IP header; IPv6 data does not.
 */
static napi_value raw_recv(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  uint8_t *buf, *src;
  size_t blen, slen, mlen, off;
  void *mp;
  napi_typedarray_type mt;
  napi_value ab;
  if (argc < 4 || !get_int(env, argv[0], &fd) || !get_bytes(env, argv[1], &buf, &blen) || napi_get_typedarray_info(env, argv[2], &mt, &mlen, &mp, &ab, &off) != napi_ok ||
      mt != napi_int32_array || mlen < 3 || !get_bytes(env, argv[3], &src, &slen) || slen < 16) {
    napi_throw_type_error(env, NULL, "rawRecv(fd, buf, meta: Int32Array(3), src: Uint8Array(16))");
    return NULL;
  }
  int32_t *meta = mp;
  struct sockaddr_storage from;
  char control[256];
  struct iovec iov = {.iov_base = buf, .iov_len = blen};
  struct msghdr msg = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  ssize_t r;
  do r = recvmsg(fd, &msg, 0);
  while (r < 0 && errno == EINTR);
  napi_value out;
  if (r < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      CHECK(napi_create_int32(env, -1, &out));
      return out;
    }
    return throw_errno(env, errno, "recvmsg", NULL);
  }
  meta[0] = -1;
  meta[1] = 0;
  meta[2] = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) meta[0] = *(int *)CMSG_DATA(c);
    else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) meta[1] = ((struct in_pktinfo *)CMSG_DATA(c))->ipi_ifindex;
    else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) meta[0] = *(int *)CMSG_DATA(c);
    else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) meta[1] = ((struct in6_pktinfo *)CMSG_DATA(c))->ipi6_ifindex;
  }
  if (from.ss_family == AF_INET) {
    memcpy(src, &((struct sockaddr_in *)&from)->sin_addr, 4);
    meta[2] = 4;
  } else if (from.ss_family == AF_INET6) {
    memcpy(src, &((struct sockaddr_in6 *)&from)->sin6_addr, 16);
    meta[2] = 16;
  }
  CHECK(napi_create_int32(env, (int32_t)r, &out));
  return out;
}

/* rawSetTos(fd, af, tos): IPv4 TOS / IPv6 traffic class of what we send (CARP and pfsync send 0x10, as OpenBSD). */
static napi_value raw_set_tos(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, af, tos;
  if (argc < 3 || !get_int(env, argv[0], &fd) || !get_int(env, argv[1], &af) || !get_int(env, argv[2], &tos) || tos < 0 || tos > 255) {
    napi_throw_type_error(env, NULL, "rawSetTos(fd, af, tos: 0..255)");
    return NULL;
  }
  int rc = af == 4 ? setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof tos) : setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof tos);
  if (rc < 0) return throw_errno(env, errno, af == 4 ? "IP_TOS" : "IPV6_TCLASS", NULL);
  return NULL;
}

/* ---- link-layer sockets: whole Ethernet frames (gratuitous ARP, neighbour advertisements, CARP from the virtual MAC) ---- */

/* The interface named by a JS string: its index, or 0 with a pending exception (name is filled for messages). */
static unsigned get_ifindex(napi_env env, napi_value v, char name[IFNAMSIZ], const char *usage) {
  size_t len;
  memset(name, 0, IFNAMSIZ);
  if (napi_get_value_string_utf8(env, v, name, IFNAMSIZ, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, usage);
    return 0;
  }
  unsigned idx = if_nametoindex(name);
  if (idx == 0) throw_errno(env, errno, "if_nametoindex", name);
  return idx;
}

/* packetOpen(ifname) -> fd: an AF_PACKET socket bound to the interface, for sending only (protocol 0 receives nothing). */
static napi_value packet_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[IFNAMSIZ];
  if (argc < 1) {
    napi_throw_type_error(env, NULL, "packetOpen(ifname)");
    return NULL;
  }
  unsigned idx = get_ifindex(env, argv[0], name, "packetOpen(ifname)");
  if (idx == 0) return NULL;
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket", "AF_PACKET");
  struct sockaddr_ll sa = {.sll_family = AF_PACKET, .sll_protocol = 0, .sll_ifindex = (int)idx};
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, e, "bind", name);
  }
  napi_value out;
  CHECK(napi_create_int32(env, fd, &out));
  return out;
}

/* packetSend(fd, frame) -> bytes sent: one Ethernet frame, header included, as given. */
static napi_value packet_send(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  uint8_t *data;
  size_t len;
  if (argc < 2 || !get_int(env, argv[0], &fd) || !get_bytes(env, argv[1], &data, &len) || len < ETH_HLEN) {
    napi_throw_type_error(env, NULL, "packetSend(fd, frame: Uint8Array of at least 14 bytes)");
    return NULL;
  }
  ssize_t r;
  do r = send(fd, data, len, 0);
  while (r < 0 && errno == EINTR);
  if (r < 0) return throw_errno(env, errno, "send", "AF_PACKET");
  napi_value out;
  CHECK(napi_create_int32(env, (int32_t)r, &out));
  return out;
}

/*
 * neighbourListen(ifname, macs) -> fd: an AF_PACKET socket on the interface that receives only ARP and IPv6
 * neighbour solicitations (a classic BPF filter in the kernel), so CARP can answer them itself. macs: multicast
 * MACs (6 bytes each) the interface must take in while the socket is open (solicited-node groups: a NOARP
 * device joins none itself).
 */
static napi_value neighbour_listen(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[IFNAMSIZ];
  uint8_t *macs;
  size_t macs_len;
  if (argc < 2 || !get_bytes(env, argv[1], &macs, &macs_len) || macs_len % ETH_ALEN != 0) {
    napi_throw_type_error(env, NULL, "neighbourListen(ifname, macs: Uint8Array of 6-byte MACs)");
    return NULL;
  }
  unsigned idx = get_ifindex(env, argv[0], name, "neighbourListen(ifname)");
  if (idx == 0) return NULL;
  /* ARP; or IPv6 with next header ICMPv6 (byte 20) and ICMPv6 type 135 right after the fixed header (byte 54) */
  struct sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_ARP, 5, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IPV6, 0, 5),
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 20),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 58, 0, 3),
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 54),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 135, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, 0xffff),
      BPF_STMT(BPF_RET | BPF_K, 0),
  };
  struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket", "AF_PACKET");
  struct sockaddr_ll sa = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = (int)idx};
  /* the filter goes on before the bind, so nothing unfiltered is queued in between */
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, e, "neighbourListen", name);
  }
  for (size_t k = 0; k < macs_len; k += ETH_ALEN) {
    struct packet_mreq mr = {.mr_ifindex = (int)idx, .mr_type = PACKET_MR_MULTICAST, .mr_alen = ETH_ALEN};
    memcpy(mr.mr_address, macs + k, ETH_ALEN);
    if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) < 0) {
      int e = errno;
      close(fd);
      return throw_errno(env, e, "PACKET_ADD_MEMBERSHIP", name);
    }
  }
  napi_value out;
  CHECK(napi_create_int32(env, fd, &out));
  return out;
}

/* packetRecv(fd, buf) -> length of the next frame received (not one this host sent), or -1 when none waits. */
static napi_value packet_recv(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  uint8_t *buf;
  size_t blen;
  if (argc < 2 || !get_int(env, argv[0], &fd) || !get_bytes(env, argv[1], &buf, &blen)) {
    napi_throw_type_error(env, NULL, "packetRecv(fd, buf)");
    return NULL;
  }
  napi_value out;
  for (;;) {
    struct sockaddr_ll from;
    socklen_t flen = sizeof from;
    ssize_t r = recvfrom(fd, buf, blen, 0, (struct sockaddr *)&from, &flen);
    /* ENETDOWN: the interface went down (or was down at bind); the error is reported once and cleared */
    if (r < 0 && (errno == EINTR || errno == ENETDOWN)) continue;
    if (r < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        CHECK(napi_create_int32(env, -1, &out));
        return out;
      }
      return throw_errno(env, errno, "recvfrom", "AF_PACKET");
    }
    if (from.sll_pkttype == PACKET_OUTGOING) continue;
    CHECK(napi_create_int32(env, (int32_t)r, &out));
    return out;
  }
}

static napi_value if_index(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[IFNAMSIZ];
  if (argc < 1) {
    napi_throw_type_error(env, NULL, "ifIndex(name)");
    return NULL;
  }
  unsigned idx = get_ifindex(env, argv[0], name, "ifIndex(name)");
  if (idx == 0) return NULL;
  napi_value out;
  CHECK(napi_create_uint32(env, idx, &out));
  return out;
}

/* native/sock-owner.c */
napi_value sock_owner(napi_env env, napi_callback_info info);
napi_value socket_gid(napi_env env, napi_callback_info info);

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"tunOpen", NULL, tun_open, NULL, NULL, NULL, napi_default, NULL},
      {"ifconfig", NULL, if_config, NULL, NULL, NULL, napi_default, NULL},
      {"readBatch", NULL, read_batch, NULL, NULL, NULL, napi_default, NULL},
      {"writeBatch", NULL, write_batch, NULL, NULL, NULL, napi_default, NULL},
      {"watch", NULL, watch, NULL, NULL, NULL, napi_default, NULL},
      {"unwatch", NULL, unwatch, NULL, NULL, NULL, napi_default, NULL},
      {"watchThread", NULL, watch_thread, NULL, NULL, NULL, napi_default, NULL},
      {"unwatchThread", NULL, unwatch_thread, NULL, NULL, NULL, napi_default, NULL},
      {"ackThread", NULL, ack_thread, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_fd, NULL, NULL, NULL, napi_default, NULL},
      {"rawOpen", NULL, raw_open, NULL, NULL, NULL, napi_default, NULL},
      {"rawBindDevice", NULL, raw_bind_device, NULL, NULL, NULL, napi_default, NULL},
      {"rawBindAddress", NULL, raw_bind_address, NULL, NULL, NULL, napi_default, NULL},
      {"rawMulticast", NULL, raw_multicast, NULL, NULL, NULL, napi_default, NULL},
      {"rawMulticastLoop", NULL, raw_multicast_loop, NULL, NULL, NULL, napi_default, NULL},
      {"rawSend", NULL, raw_send, NULL, NULL, NULL, napi_default, NULL},
      {"rawRecv", NULL, raw_recv, NULL, NULL, NULL, napi_default, NULL},
      {"rawSetTos", NULL, raw_set_tos, NULL, NULL, NULL, napi_default, NULL},
      {"packetOpen", NULL, packet_open, NULL, NULL, NULL, napi_default, NULL},
      {"packetSend", NULL, packet_send, NULL, NULL, NULL, napi_default, NULL},
      {"neighbourListen", NULL, neighbour_listen, NULL, NULL, NULL, napi_default, NULL},
      {"packetRecv", NULL, packet_recv, NULL, NULL, NULL, napi_default, NULL},
      {"ifIndex", NULL, if_index, NULL, NULL, NULL, napi_default, NULL},
      {"sockOwner", NULL, sock_owner, NULL, NULL, NULL, napi_default, NULL},
      {"socketGid", NULL, socket_gid, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
