// The `pfsync { ... }` block of the HA file, with the options of OpenBSD's
// `ifconfig pfsync0 ...`:
//
//   pfsync { syncdev sync0 syncpeer 10.9.0.2 maxupd 128 defer }
//
// syncdev IF (the link the states travel on), syncpeer ADDRESS (unicast to
// the peer instead of the group 224.0.0.240; received packets must then come
// from it), maxupd 0-255 (coalesced TCP updates before a state is sent
// anyway, default 128), defer (hold a new flow's first packet until the peer
// has its state).

import { parseAddress } from '../packet/address.js';
import type { SourceLocation } from '../rules/ast.js';
import { PFSYNC } from './constants.js';
import { ConfigError, type BlockReader } from '../rules/block-reader.js';

export interface PfsyncConfig {
  syncdev: string;
  syncpeer: string | null;
  maxupd: number;
  defer: boolean;
  loc: SourceLocation;
}

/** Reads the block after `pfsync`; the reader stands on its '{'. */
export function parsePfsyncBlock(r: BlockReader, loc: SourceLocation): PfsyncConfig {
  r.expectPunct('{', 'after pfsync');
  const c: PfsyncConfig = { syncdev: '', syncpeer: null, maxupd: PFSYNC.DEFAULT_MAXUPD, defer: false, loc };
  while (!r.blockEnds('pfsync')) {
    const opt = r.word('a pfsync option');
    switch (opt.text) {
      case 'syncdev':
        c.syncdev = r.word('an interface name').text;
        break;
      case 'syncpeer': {
        const p = r.word('a peer address');
        const a = parseAddress(p.text);
        if (!a) throw new ConfigError(p.loc, `invalid syncpeer '${p.text}'`);
        if (a.af !== 4)
          throw new ConfigError(p.loc, "pfsync travels over IPv4 (as OpenBSD's): syncpeer must be an IPv4 address");
        c.syncpeer = p.text;
        break;
      }
      case 'maxupd':
        c.maxupd = r.number('maxupd', 0, 255);
        break;
      case 'defer':
        c.defer = true;
        break;
      default:
        throw new ConfigError(opt.loc, `unknown pfsync option '${opt.text}' (syncdev, syncpeer, maxupd, defer)`);
    }
  }
  if (!c.syncdev) throw new ConfigError(loc, 'pfsync: syncdev is missing');
  return c;
}
