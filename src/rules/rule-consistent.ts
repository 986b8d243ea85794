// pfctl's rule_consistent and the checks its grammar actions make on a whole
// rule: combinations pf refuses even though each part parses. Checks on one
// option (lengths, redefinitions, source-track) sit where the option is read.

import type { AddressSpec, Rule, SourceLocation } from './ast.js';
import type { HostItem, RuleSpec } from './rule-spec.js';
import { protocolName } from './names.js';

type Fail = (loc: SourceLocation, message: string) => void;

/** pf's PF_RULE_LABEL_SIZE and PF_TAG_NAME_SIZE are 64 bytes with the NUL: 63 bytes of text. */
export const MAX_LABEL_BYTES = 63;
export const MAX_TAG_BYTES = 63;
/** PF_TABLE_NAME_SIZE (32) and IFNAMSIZ (16), NUL included. */
export const MAX_TABLE_NAME_BYTES = 31;
export const MAX_IFNAME_BYTES = 15;

const encoder = new TextEncoder();
export function byteLength(s: string): number {
  return encoder.encode(s).length;
}

/** Checks on the rule as written, before its lists are expanded. */
export function specConsistent(spec: RuleSpec, fail: Fail): void {
  if (spec.flags && spec.protos.length > 0 && !spec.protos.includes(6)) {
    // pfctl keeps the flags for the list's tcp rule; without one they cannot apply
    fail(spec.flagsLoc ?? spec.loc, `flags only apply to tcp, not to proto ${protocolName(spec.protos[0]!)}`);
  }
  if (spec.allowOpts && spec.action !== 'pass') fail(spec.loc, 'allow-opts can only be specified for pass rules');
  if (spec.action !== 'pass' && spec.stateExplicit && spec.state !== 'none')
    fail(spec.loc, 'keep state is great, but only for pass rules');
  const o = spec.stateOptions;
  if (o.sloppy && (spec.state === 'modulate' || spec.state === 'synproxy'))
    fail(spec.loc, 'sloppy state matching cannot be used with synproxy state or modulate state');
  if (o.overload && o.maxSrcConn === null && o.maxSrcConnRate === null)
    fail(spec.loc, "'overload' requires 'max-src-conn' or 'max-src-conn-rate'");
}

/** rule_consistent's checks on one expanded rule. */
export function ruleConsistent(rule: Rule, spec: RuleSpec, fail: Fail): void {
  if ((rule.proto === 1 && rule.af === 6) || (rule.proto === 58 && rule.af === 4))
    fail(
      spec.protoLoc ?? spec.loc,
      `proto ${rule.proto === 1 ? 'icmp' : 'icmp6'} doesn't match address family ${rule.af === 4 ? 'inet' : 'inet6'}`,
    );
  if (rule.block === 'return-rst' && rule.action === 'block' && rule.proto !== 6)
    fail(spec.loc, 'return-rst can only be applied to TCP rules');
  if (rule.label !== null && byteLength(rule.label) > MAX_LABEL_BYTES)
    fail(spec.loc, `label too long once its macros are expanded (max ${MAX_LABEL_BYTES} chars): "${rule.label}"`);
}

/**
 * A scoped address (`fe80::1%lan`) binds the rule to its interface, as pfctl's expand_rule does:
 * the interface the rule names (`on IF`), or, without one, the scope's. Null when the
 * combination cannot match (another interface, or two scopes that differ).
 */
export function scopedInterface(iface: Rule['iface'], src: HostItem, dst: HostItem): { iface: Rule['iface'] } | null {
  if (src.scope && dst.scope && src.scope !== dst.scope) return null;
  const scope = src.scope ?? dst.scope;
  if (!scope) return { iface };
  if (iface) return iface.name === scope ? { iface } : null;
  return { iface: { name: scope, neg: false } };
}

/** A dynamic address's mask as the rule's family leaves it (pfctl's gen_dynnode: IPv4 at most 32). */
export function fitDynamicMask(a: AddressSpec, af: 0 | 4 | 6): AddressSpec {
  if (a.kind !== 'dynamic' || a.bits === null) return a;
  if (a.bits >= 128 || (af === 4 && a.bits >= 32)) return { ...a, bits: null };
  return a;
}
