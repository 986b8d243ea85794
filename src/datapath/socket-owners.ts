// `user` and `group` on Linux: the router's own socket for a packet, found
// by the kernel's socket lookup (sock_diag, native/sock-owner.c) with the
// packet's tuple seen from the router: the established socket, else the
// listening or unbound one. Only packets from one of the router's addresses
// (out) or to one (in) are looked up; a forwarded packet's owner is unknown,
// as pf.conf(5) says, even where a wildcard listener would take its port.
//
// The group: Linux sockets have no group of their own, but a socket's inode
// carries the fsgid of the process that created it (pf's so_egid is the
// creator's effective gid: the same unless fsgid was changed apart). It is
// read by stat() through a /proc/PID/fd link to the socket, which means
// scanning /proc: costly, so only for rules with `group`, and remembered
// per inode in a bounded cache (an inode's creator never changes).

import { LRUCache } from 'lru-cache';
import { Direction, type PacketMeta } from '../packet/meta.js';
import { OWNER_UNKNOWN, type SocketOwner, type SocketOwnerLookup } from '../filter/socket-owner.js';
import { LOCAL_DELIVERY, type RouteLookup } from './route-table.js';

/** What the native addon answers (os/native-addon.ts). */
export interface SocketQueries {
  /** q = [af, proto, local port, remote port, local words x4, remote words x4]; true: q[12] uid, q[13] inode. */
  sockOwner(q: Uint32Array): boolean;
  /** The group of a socket inode, -1 when no process holds it. */
  socketGid(inode: number): number;
}

export class SocketOwners implements SocketOwnerLookup {
  /** The router's addresses are those the table delivers locally; null until the table is known (all unknown). */
  routes: RouteLookup | null = null;
  /** Lookups the kernel refused (the owner was then unknown). */
  errors = 0;
  private readonly query = new Uint32Array(14);
  private readonly groups: LRUCache<number, number>;

  constructor(
    private readonly native: SocketQueries,
    groupCacheSize = 4096,
  ) {
    this.groups = new LRUCache({ max: groupCacheSize });
  }

  lookup(meta: PacketMeta, direction: Direction, owner: SocketOwner, group: boolean): void {
    if (!owner.userDone) this.findSocket(meta, direction, owner);
    owner.userDone = true;
    if (group && owner.socket !== 0) owner.gid = this.groupOf(owner.socket);
  }

  private findSocket(meta: PacketMeta, direction: Direction, owner: SocketOwner): void {
    const inbound = direction === Direction.IN;
    const local = inbound ? meta.dst : meta.src;
    if (this.routes === null || this.routes.lookup(meta.af, local) !== LOCAL_DELIVERY) return;
    const q = this.query;
    q[0] = meta.af;
    q[1] = meta.proto;
    q[2] = inbound ? meta.dstPort : meta.srcPort;
    q[3] = inbound ? meta.srcPort : meta.dstPort;
    q.set(local, 4);
    q.set(inbound ? meta.src : meta.dst, 8);
    let found = false;
    try {
      found = this.native.sockOwner(q);
    } catch {
      this.errors++;
    }
    if (!found) return;
    owner.uid = q[12]!;
    owner.socket = q[13]!;
  }

  private groupOf(inode: number): number {
    let gid = this.groups.get(inode);
    if (gid === undefined) {
      const found = this.native.socketGid(inode);
      gid = found < 0 ? OWNER_UNKNOWN : found;
      this.groups.set(inode, gid);
    }
    return gid;
  }
}
