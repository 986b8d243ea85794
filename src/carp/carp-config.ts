// One `carp NAME { ... }` block of the HA file: a virtual host id with the
// options of OpenBSD's `ifconfig carpN ...`:
//
//   carp carp-lan {
//     carpdev lan vhid 1 advbase 1 advskew 0 pass "s3cret" preempt
//     address 192.168.1.1/24
//     address 2001:db8:1::1/64
//   }
//
// carpdev IF, vhid 1-255, advbase 0-255 (s), advskew 0-254 (1/256 s),
// pass "..." (at most 19 bytes), preempt, address ADDR/LEN (repeatable),
// peer ADDRESS (unicast advertisements instead of the multicast group),
// lladdr virtual|real (the virtual MAC on a macvlan named NAME, the default;
// or the addresses on carpdev itself, as ucarp does), skew-demotion (while
// demoted also advertise advskew 240, for FreeBSD and ucarp peers, which
// ignore the demote byte), ucarp (this vhid is shared with ucarp: a
// configuration ucarp cannot match is an error). The passphrase never appears in JSON or
// util.inspect output.

import { inspect } from 'node:util';
import { parseAddress, parsePrefix } from '../packet/address.js';
import { ConfigError, type BlockReader } from '../rules/block-reader.js';
import type { SourceLocation } from '../rules/ast.js';
import { checkPassphrase } from './hmac.js';

/** Holds a passphrase without ever printing it. */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  get empty(): boolean {
    return this.#value.length === 0;
  }
  toJSON(): string {
    return '<redacted>';
  }
  toString(): string {
    return '<redacted>';
  }
  [inspect.custom](): string {
    return '<redacted>';
  }
}

export interface CarpAddress {
  af: 4 | 6;
  address: string;
  bits: number;
}

export interface CarpGroupConfig {
  /** The carp interface's name: the macvlan that holds the addresses (lladdr virtual). */
  name: string;
  carpdev: string;
  vhid: number;
  advbase: number;
  advskew: number;
  pass: Secret;
  preempt: boolean;
  skewDemotion: boolean;
  /** The vhid is shared with ucarp: what ucarp cannot match is an error, not a note. */
  ucarp: boolean;
  /** Unicast advertisements to this address instead of the multicast group. */
  peer: string | null;
  /** 'virtual': a macvlan with 00:00:5e:00:01:vhid holds the addresses; 'real': carpdev holds them. */
  lladdr: 'virtual' | 'real';
  addresses: CarpAddress[];
  loc: SourceLocation;
}

const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

/** Reads the block after `carp`; the reader stands on the name. */
export function parseCarpBlock(r: BlockReader): CarpGroupConfig {
  const name = r.word('a carp interface name');
  if (!IFNAME.test(name.text))
    throw new ConfigError(name.loc, `'${name.text}' is not an interface name (1-15 letters, digits, '_', '.', '-')`);
  r.expectPunct('{', `after carp ${name.text}`);
  const g: CarpGroupConfig = {
    name: name.text,
    carpdev: '',
    vhid: 0,
    advbase: 1,
    advskew: 0,
    pass: new Secret(''),
    preempt: false,
    skewDemotion: false,
    ucarp: false,
    peer: null,
    lladdr: 'virtual',
    addresses: [],
    loc: name.loc,
  };
  while (!r.blockEnds(`carp ${name.text}`)) {
    const opt = r.word('a carp option');
    switch (opt.text) {
      case 'carpdev':
        g.carpdev = r.word('an interface name').text;
        break;
      case 'vhid':
        g.vhid = r.number('vhid', 1, 255);
        break;
      case 'advbase':
        g.advbase = r.number('advbase', 0, 255);
        break;
      case 'advskew':
        g.advskew = r.number('advskew', 0, 254);
        break;
      case 'pass': {
        const p = r.word('a passphrase');
        const err = checkPassphrase(p.text);
        if (err) throw new ConfigError(p.loc, err);
        g.pass = new Secret(p.text);
        break;
      }
      case 'preempt':
        g.preempt = true;
        break;
      case 'skew-demotion':
        g.skewDemotion = true;
        break;
      case 'ucarp':
        g.ucarp = true;
        break;
      case 'lladdr': {
        const v = r.word("'virtual' or 'real'");
        if (v.text !== 'virtual' && v.text !== 'real')
          throw new ConfigError(v.loc, `lladdr is 'virtual' or 'real', not '${v.text}'`);
        g.lladdr = v.text;
        break;
      }
      case 'peer': {
        const p = r.word('a peer address');
        if (!parseAddress(p.text)) throw new ConfigError(p.loc, `invalid peer address '${p.text}'`);
        g.peer = p.text;
        break;
      }
      case 'address': {
        const a = r.addressText('an address');
        const p = parsePrefix(a.text);
        if (!p || !a.text.includes('/')) throw new ConfigError(a.loc, `invalid address '${a.text}' (ADDRESS/LENGTH)`);
        const address = a.text.split('/')[0]!;
        if (g.addresses.some((x) => x.address === address))
          throw new ConfigError(a.loc, `address ${address} is listed twice`);
        g.addresses.push({ af: p.af, address, bits: p.bits });
        break;
      }
      default:
        throw new ConfigError(
          opt.loc,
          `unknown carp option '${opt.text}' (carpdev, vhid, advbase, advskew, pass, preempt, address, peer, ` +
            'lladdr, skew-demotion, ucarp)',
        );
    }
  }
  if (!g.carpdev) throw new ConfigError(name.loc, `carp ${name.text}: carpdev is missing`);
  if (!g.vhid) throw new ConfigError(name.loc, `carp ${name.text}: vhid is missing`);
  if (g.addresses.length === 0) throw new ConfigError(name.loc, `carp ${name.text}: no address`);
  if (g.lladdr === 'virtual' && g.name === g.carpdev)
    throw new ConfigError(
      name.loc,
      `carp ${name.text}: the carp interface needs a name of its own (it becomes a macvlan on ${g.carpdev})`,
    );
  const peerAf = g.peer ? parseAddress(g.peer)!.af : null;
  if (peerAf !== null && !g.addresses.some((a) => a.af === peerAf))
    throw new ConfigError(
      name.loc,
      `carp ${name.text}: peer ${g.peer} is IPv${peerAf}, but the group has no IPv${peerAf} address`,
    );
  if (g.ucarp) {
    const why = ucarpCompatibility(g);
    if (why.length) throw new ConfigError(name.loc, `${why[0]} (the group says ucarp)`);
  }
  return g;
}

/** Why a group could not stand in a group with ucarp (shared/spec/carp.md §5.4). */
export function ucarpCompatibility(g: CarpGroupConfig): string[] {
  const out: string[] = [];
  const v4 = g.addresses.filter((a) => a.af === 4).length;
  if (v4 !== 1)
    out.push(
      `carp ${g.name}: ucarp hashes exactly one IPv4 address; this group has ${v4}, ` +
        `so it cannot share vhid ${g.vhid} with ucarp`,
    );
  if (g.addresses.some((a) => a.af === 6))
    out.push(
      `carp ${g.name}: ucarp speaks no IPv6, and the IPv6 addresses change the HMAC: ` +
        `ucarp peers of vhid ${g.vhid} would reject it`,
    );
  if (g.pass.empty)
    out.push(`carp ${g.name}: no passphrase: OpenBSD accepts that, ucarp cannot be configured without one`);
  return out;
}
