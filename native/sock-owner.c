// The owner of one of the host's TCP or UDP sockets, for pf's `user` and
// `group`: the socket a packet belongs to is found by NETLINK_SOCK_DIAG's
// exact lookup (the kernel's own demultiplexing: an established socket, else
// the listening or unbound one), which gives its uid and inode; the inode's
// group is the creator's fsgid, read by stat() through the /proc fd that
// holds the socket. Both are synchronous: pf looks the owner up while it
// evaluates the rules.

#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define Q_LEN 14

static int diag_fd = -1;
static uint32_t diag_seq;

static void put_address(uint32_t af, const uint32_t *words, __be32 *out) {
  int n = af == 4 ? 1 : 4;
  for (int i = 0; i < n; i++) out[i] = htonl(words[i]);
}

/* One exact lookup; 1 and uid/inode when the kernel found a socket, 0 when not, -errno on failure. */
static int diag_lookup(const uint32_t *q, uint32_t *uid, uint32_t *inode) {
  if (diag_fd < 0) {
    diag_fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (diag_fd < 0) return -errno;
  }
  struct {
    struct nlmsghdr nlh;
    struct inet_diag_req_v2 req;
  } msg;
  memset(&msg, 0, sizeof msg);
  msg.nlh.nlmsg_len = sizeof msg;
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST;
  msg.nlh.nlmsg_seq = ++diag_seq;
  msg.req.sdiag_family = q[0] == 4 ? AF_INET : AF_INET6;
  msg.req.sdiag_protocol = (uint8_t)q[1];
  msg.req.idiag_states = ~0U;
  /* TCP's lookup reads src as the local end; UDP's reads it as the remote one (udp_dump_one) */
  int local_is_src = q[1] != IPPROTO_UDP;
  msg.req.id.idiag_sport = htons((uint16_t)(local_is_src ? q[2] : q[3]));
  msg.req.id.idiag_dport = htons((uint16_t)(local_is_src ? q[3] : q[2]));
  put_address(q[0], local_is_src ? q + 4 : q + 8, msg.req.id.idiag_src);
  put_address(q[0], local_is_src ? q + 8 : q + 4, msg.req.id.idiag_dst);
  msg.req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  msg.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  ssize_t n;
  do n = sendto(diag_fd, &msg, sizeof msg, 0, (struct sockaddr *)&kernel, sizeof kernel);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  for (;;) {
    char buf[2048] __attribute__((aligned(NLMSG_ALIGNTO)));
    do n = recv(diag_fd, buf, sizeof buf, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != diag_seq) continue; /* an answer to an earlier, abandoned request */
      if (h->nlmsg_type == NLMSG_ERROR) {
        int err = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
        return err == -ENOENT || err == 0 ? 0 : err;
      }
      if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY) {
        struct inet_diag_msg *d = NLMSG_DATA(h);
        /* inode 0: a TIME_WAIT or request socket, which no process owns */
        if (d->idiag_inode == 0) return 0;
        *uid = d->idiag_uid;
        *inode = d->idiag_inode;
        return 1;
      }
    }
  }
}

static napi_value throw_code(napi_env env, int err, const char *op) {
  char text[128];
  snprintf(text, sizeof text, "%s: %s", op, strerror(err));
  napi_throw_error(env, NULL, text);
  return NULL;
}

/*
 * sockOwner(q: Uint32Array(14)) -> boolean. q = [af, proto, local port, remote port, local words x4,
 * remote words x4, uid, inode]: the socket's uid and inode go to q[12], q[13] when one is found.
 */
napi_value sock_owner(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_typedarray_type type;
  size_t len, off;
  void *data;
  napi_value ab;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_typedarray_info(env, argv[0], &type, &len, &data, &ab, &off) != napi_ok || type != napi_uint32_array ||
      len < Q_LEN) {
    napi_throw_type_error(env, NULL, "sockOwner(query: Uint32Array(14))");
    return NULL;
  }
  uint32_t *q = data;
  int rc = diag_lookup(q, &q[12], &q[13]);
  if (rc < 0) return throw_code(env, -rc, "sock_diag");
  napi_value out;
  napi_get_boolean(env, rc == 1, &out);
  return out;
}

/* The group of socket inode `inode` (its creator's fsgid), from the first /proc/PID/fd entry holding it; -1: none. */
napi_value socket_gid(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  uint32_t inode;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_uint32(env, argv[0], &inode) != napi_ok) {
    napi_throw_type_error(env, NULL, "socketGid(inode: number)");
    return NULL;
  }
  double gid = -1;
  DIR *proc = opendir("/proc");
  if (proc) {
    struct dirent *p;
    while (gid < 0 && (p = readdir(proc))) {
      if (p->d_name[0] < '1' || p->d_name[0] > '9') continue;
      char path[300];
      snprintf(path, sizeof path, "/proc/%s/fd", p->d_name);
      DIR *fds = opendir(path);
      if (!fds) continue;
      struct dirent *f;
      while ((f = readdir(fds))) {
        if (f->d_name[0] == '.') continue;
        struct stat st;
        if (fstatat(dirfd(fds), f->d_name, &st, 0) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == inode) {
          gid = st.st_gid;
          break;
        }
      }
      closedir(fds);
    }
    closedir(proc);
  }
  napi_value out;
  napi_create_double(env, gid, &out);
  return out;
}
