// CARP's and pfsync's own packets through the rules. Their raw sockets
// bypass the datapath (IPv4 multicast input never consults the routing
// rules that steer traffic into the TUNs, and sockets bound to a device send
// around it), so the services ask here: each
// packet is parsed and gets the packet pipeline's single check, `in` on the
// interface its socket is bound to or `out` on the one it leaves by, with
// the states, counters and pflog records any packet gets.

import type { PacketPipeline } from '../datapath/pipeline.js';
import type { InterfaceRegistry } from '../filter/interface-registry.js';
import { Direction, PacketMeta } from '../packet/meta.js';
import { parsePacket } from '../packet/parse.js';
import type { CarpAdmission } from '../carp/carp-service.js';
import type { PfsyncAdmission } from '../pfsync/pfsync-service.js';

export interface HaAdmissionOptions {
  /** A pipeline of its own (its outcome is reused per call), on the datapath's filter and states. */
  pipeline: PacketPipeline;
  interfaces: InterfaceRegistry;
  /** Seconds, the daemon's clock. */
  clock: () => number;
  /** The `set skip on` interfaces of the ruleset in force: never checked, as in pf. */
  skipped: () => readonly string[];
  /**
   * Interfaces where what is addressed to the router itself goes through the
   * datapath: a unicast CARP or pfsync packet received there had its check
   * in the datapath, and is not checked a second time here. What the
   * services send always is: their sockets are bound to a device, and bound
   * sockets go around the datapath.
   */
  datapathUnicast: ReadonlySet<string>;
}

/** Multicast: 224.0.0.0/4 or ff00::/8. */
function isMulticast(m: PacketMeta): boolean {
  return m.af === 4 ? m.dst[0]! >>> 28 === 0xe : m.dst[0]! >>> 24 === 0xff;
}

export class HaAdmission implements CarpAdmission, PfsyncAdmission {
  private readonly meta = new PacketMeta();

  constructor(private readonly o: HaAdmissionOptions) {}

  admitIn(packet: Uint8Array, ifname: string): boolean {
    return this.admit(packet, ifname, Direction.IN);
  }

  admitOut(packet: Uint8Array, ifname: string): boolean {
    return this.admit(packet, ifname, Direction.OUT);
  }

  private admit(packet: Uint8Array, ifname: string, direction: Direction): boolean {
    if (this.o.skipped().includes(ifname)) return true;
    const m = this.meta;
    parsePacket(packet, 0, packet.length, m);
    if (direction === Direction.IN && m.error === 0 && !isMulticast(m) && this.o.datapathUnicast.has(ifname))
      return true;
    const ifId = this.o.interfaces.intern(ifname);
    return this.o.pipeline.checkOnce(m, packet, 0, packet.length, direction, ifId, this.o.clock()).pass;
  }
}
