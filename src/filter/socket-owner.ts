// pf's `user` and `group`: the owner of the router's own socket a packet
// belongs to, looked up while the rules are evaluated (pf_socket_lookup), at
// most once per packet and only when a rule with user or group is reached.
// The filter does not know sockets: whoever runs it injects the lookup.

import type { Direction, PacketMeta } from '../packet/meta.js';

/** pf's `unknown` (UID_MAX / GID_MAX): no socket of the router, or a forwarded packet. */
export const OWNER_UNKNOWN = 0xffffffff;

/** What the lookup found for the packet being evaluated; reused for every packet. */
export class SocketOwner {
  uid = OWNER_UNKNOWN;
  gid = OWNER_UNKNOWN;
  /** The uid (and with it the socket) was looked up; the gid was. */
  userDone = false;
  groupDone = false;
  /** The lookup's own handle of the socket it found (on Linux its inode), 0: none. */
  socket = 0;

  reset(): void {
    this.uid = OWNER_UNKNOWN;
    this.gid = OWNER_UNKNOWN;
    this.userDone = false;
    this.groupDone = false;
    this.socket = 0;
  }
}

/**
 * Finds the router's own socket that sent (`out`) or is to receive (`in`) a
 * TCP or UDP packet and fills owner.uid, or owner.gid when `group` (the uid
 * may have been looked up already: owner.userDone). A packet that is not the
 * router's own (a forwarded one) leaves them OWNER_UNKNOWN.
 */
export interface SocketOwnerLookup {
  lookup(meta: PacketMeta, direction: Direction, owner: SocketOwner, group: boolean): void;
}
