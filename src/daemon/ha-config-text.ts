// The HA configuration as `tunpf check -v` prints it: one line per group in
// the order ifconfig would take its options, the addresses, and whether the
// group can share its vhid with ucarp. The passphrase is never printed.

import { ucarpCompatibility } from '../carp/carp-config.js';
import { formatMac, virtualMac } from '../carp/frames.js';
import type { HaConfig } from './ha-config.js';

export function formatHaConfig(c: HaConfig): string {
  const out: string[] = [];
  for (const g of c.carp) {
    const opts = [`carpdev ${g.carpdev}`, `vhid ${g.vhid}`, `advbase ${g.advbase}`, `advskew ${g.advskew}`];
    if (!g.pass.empty) opts.push('pass ********');
    if (g.preempt) opts.push('preempt');
    if (g.peer) opts.push(`peer ${g.peer}`);
    if (g.skewDemotion) opts.push('skew-demotion');
    opts.push(g.lladdr === 'virtual' ? `lladdr virtual (${formatMac(virtualMac(g.vhid))})` : 'lladdr real');
    out.push(`carp ${g.name}: ${opts.join(' ')}`);
    for (const a of g.addresses) out.push(`\taddress ${a.address}/${a.bits}`);
    const why = ucarpCompatibility(g);
    out.push(
      why.length
        ? `\tucarp: cannot share vhid ${g.vhid}: ${why.map((w) => w.replace(/^carp \S+: /, '')).join('; ')}`
        : `\tucarp: can share vhid ${g.vhid}`,
    );
  }
  if (c.pfsync) {
    const p = c.pfsync;
    const peer = p.syncpeer ? ` syncpeer ${p.syncpeer}` : ' (group 224.0.0.240)';
    out.push(`pfsync: syncdev ${p.syncdev}${peer} maxupd ${p.maxupd}${p.defer ? ' defer' : ''}`);
  }
  return out.join('\n') + '\n';
}
