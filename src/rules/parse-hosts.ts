// Addresses: a rule's `from ... port ... to ... port ...`, host items (any,
// self, prefixes, ranges, <table> references, (em0) dynamic addresses,
// interface names and groups), ports, and `on` interface items.

import { maskAddress, parseAddress, type Address, type ParsedPrefix } from '../packet/address.js';
import { parseInterfaceRef, parseNetwork, parseScoped } from './address-forms.js';
import type { AddressSpec, PortOp, PortSpec, Prefix, SourceLocation } from './ast.js';
import type { HostItem, RuleSpec } from './rule-spec.js';
import { RuleSyntaxError, type ParserContext } from './parser-context.js';
import { unsupported } from './unsupported.js';
import { byteLength, MAX_IFNAME_BYTES, MAX_TABLE_NAME_BYTES } from './rule-consistent.js';
import { lookupPort, portError } from './services.js';
import { readAddressText, type Token } from './tokenizer.js';

/** The network a prefix lies in, host bits cleared. */
export function networkPrefix(p: ParsedPrefix): Prefix {
  return { af: p.af, words: maskAddress(p.words, p.bits), bits: p.bits };
}

/** One address as a full-length prefix. */
export function hostPrefix(a: Address): Prefix {
  return { af: a.af, words: Uint32Array.from(a.words), bits: a.af === 4 ? 32 : 128 };
}

/** fe80::/10: such addresses need a scope, so rules skip them. */
export function isLinkLocal6(a: Address): boolean {
  return a.af === 6 && a.words[0]! >>> 22 === 0x3fa;
}

/** `all`, or `from HOSTS [port PORTS]` and/or `to HOSTS [port PORTS]`. */
export function parseHosts(ctx: ParserContext, spec: RuleSpec): void {
  if (ctx.accept('all')) {
    spec.all = true;
    return;
  }
  if (ctx.accept('from')) {
    spec.fromHosts = hostList(ctx, spec);
    if (ctx.is('port')) {
      const portLoc = ctx.next().loc;
      spec.portLoc ??= portLoc;
      spec.fromPorts = ctx.list(() => portItem(ctx));
    }
  }
  if (ctx.accept('to')) {
    spec.toHosts = hostList(ctx, spec);
    if (ctx.is('port')) {
      const portLoc = ctx.next().loc;
      spec.portLoc ??= portLoc;
      spec.toPorts = ctx.list(() => portItem(ctx));
    }
  }
}

/** An interface of `on IFACES`. */
export function interfaceItem(ctx: ParserContext): { name: string; neg: boolean } {
  const neg = ctx.accept('!');
  const t = ctx.word('an interface name');
  if (t.text === 'any' || t.text === 'rdomain') throw unsupported(t.loc, `on ${t.text}`);
  if (byteLength(t.text) > MAX_IFNAME_BYTES) throw new RuleSyntaxError(t.loc, 'interface name too long');
  return { name: t.text, neg };
}

/**
 * A table's name, defined or used (rules, overload, pools), all checked alike: at most 31 bytes
 * (pf's PF_TABLE_NAME_SIZE 32 with its NUL), and, narrower than pf, letters, digits, `_`, `.` and `-`
 * only, the names `tunpf ctl` can address a table by.
 */
export function tableName(ctx: ParserContext): Token {
  const name = ctx.word('a table name');
  if (byteLength(name.text) > MAX_TABLE_NAME_BYTES)
    throw new RuleSyntaxError(name.loc, `table name '${name.text}' too long`);
  if (!/^[A-Za-z0-9_.-]+$/.test(name.text))
    throw new RuleSyntaxError(name.loc, `invalid table name '${name.text}' (letters, digits, '_', '.', '-')`);
  return name;
}

/** `NAME>` after a `<`: a table a rule uses, which must be defined by the end of the file. */
export function tableReference(ctx: ParserContext): string {
  const name = tableName(ctx);
  ctx.expect('>');
  ctx.tableUses.push({ name: name.text, loc: name.loc });
  return name.text;
}

/**
 * Addresses of an interface or group now, as pfctl's host_if resolves them at load:
 * `em0`, `em0:network`, `em0:broadcast`, `:0` (the first address of each family), `em0/24`.
 */
export function interfaceAddresses(ctx: ParserContext, text: string, loc: SourceLocation): Prefix[] {
  const slash = text.indexOf('/');
  const ref = parseInterfaceRef(slash < 0 ? text : text.slice(0, slash));
  if (typeof ref === 'string') throw new RuleSyntaxError(loc, `invalid address '${text}': ${ref}`);
  const { ifname, mode } = ref;
  let mask: number | null = null;
  if (slash >= 0) {
    const lenText = text.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(lenText) || Number(lenText) > 128)
      throw new RuleSyntaxError(loc, `invalid prefix length in '${text}'`);
    if (mode === 'network' || mode === 'broadcast')
      throw new RuleSyntaxError(loc, `${text}: network or broadcast lookup, but extra netmask given`);
    mask = Number(lenText);
  }
  const info = ctx.interfaces.get(ifname) ?? [...ctx.interfaces.values()].find((i) => i.groups.includes(ifname));
  if (!info) {
    if (text !== ifname || /^[a-z]+[0-9]+$/i.test(ifname))
      throw new RuleSyntaxError(
        loc,
        `no such interface '${ifname}' (tunpf resolves no host names; ` +
          `check describes one with --interface ${ifname}=ADDR/LEN)`,
      );
    throw new RuleSyntaxError(loc, `invalid address '${text}': not an address, and no interface or group of that name`);
  }
  if (mode === 'peer')
    throw new RuleSyntaxError(loc, `'${ifname}:peer' is not supported by tunpf (it knows no point-to-point peers)`);
  const out: Prefix[] = [];
  const seen = new Set<number>();
  for (const a of info.addresses) {
    if (isLinkLocal6(a)) continue;
    if (ref.noAlias && seen.has(a.af)) continue;
    seen.add(a.af);
    if (mode === 'address') {
      const bits = mask === null ? (a.af === 4 ? 32 : 128) : Math.min(mask, a.af === 4 ? 32 : 128);
      out.push(networkPrefix({ af: a.af, words: a.words, bits }));
    } else if (mode === 'network') out.push(networkPrefix(a));
    else {
      if (a.af !== 4 || a.bits >= 31) continue;
      const bc = Uint32Array.from(a.words);
      bc[0] = (a.words[0]! | (0xffffffff >>> a.bits)) >>> 0;
      out.push({ af: 4, words: bc, bits: 32 });
    }
  }
  if (out.length === 0) throw new RuleSyntaxError(loc, `interface '${ifname}' has no usable address for '${text}'`);
  return out;
}

/** `(IF[:MOD])[/LEN]` after its `(`: an address that follows the interface at run time. */
export function dynamicAddress(ctx: ParserContext, neg: boolean): AddressSpec {
  const w = ctx.word('an interface name');
  ctx.expect(')');
  const ref = parseInterfaceRef(w.text);
  if (typeof ref === 'string') throw new RuleSyntaxError(w.loc, ref);
  if (byteLength(ref.ifname) > MAX_IFNAME_BYTES) throw new RuleSyntaxError(w.loc, 'interface name too long');
  if (ref.mode === 'peer')
    throw new RuleSyntaxError(w.loc, `'(${w.text})' is not supported by tunpf (it knows no point-to-point peers)`);
  let bits: number | null = null;
  if (ctx.is('/')) {
    ctx.next();
    const n = ctx.word('a prefix length');
    if (!/^[0-9]+$/.test(n.text)) throw ctx.unexpected(n, 'a prefix length');
    if (Number(n.text) > 128) throw new RuleSyntaxError(n.loc, 'bit number too big');
    bits = Number(n.text);
  }
  return { kind: 'dynamic', ifname: ref.ifname, mode: ref.mode, noAlias: ref.noAlias, bits, neg };
}

function hostList(ctx: ParserContext, spec: RuleSpec): HostItem[] {
  if (ctx.is('port')) return [{ addr: { kind: 'any' }, af: 0, loc: ctx.peek().loc }];
  return ctx.list(() => hostItem(ctx, spec));
}

function hostItem(ctx: ParserContext, spec: RuleSpec): HostItem[] {
  const neg = ctx.accept('!');
  const loc = ctx.peek().loc;
  if (ctx.accept('any')) {
    if (neg) throw new RuleSyntaxError(loc, "'! any' matches nothing");
    return [{ addr: { kind: 'any' }, af: 0, loc }];
  }
  if (ctx.accept('no-route')) return [{ addr: { kind: 'no-route', neg }, af: 0, loc }];
  if (ctx.accept('urpf-failed')) return [{ addr: { kind: 'urpf-failed', neg }, af: 0, loc }];
  if (ctx.is('route') && ['word', 'string'].includes(ctx.tokens[ctx.pos + 1]?.kind ?? ''))
    throw unsupported(ctx.peek().loc, 'route');
  if (ctx.accept('self')) return [{ addr: { kind: 'self', neg }, af: 0, loc }];
  if (ctx.accept('<')) return [{ addr: { kind: 'table', name: tableReference(ctx), neg }, af: 0, loc }];
  if (ctx.accept('(')) return [{ addr: dynamicAddress(ctx, neg), af: 0, loc }];
  const text = readAddressText(ctx, 'an address').text;
  const scoped = parseScoped(text);
  if (scoped === 'invalid') throw new RuleSyntaxError(loc, `invalid scoped address '${text}'`);
  if (scoped) return [scopedHost(ctx, spec, scoped, text, neg, loc)];
  const p = parseNetwork(text);
  if (p) {
    const prefix = networkPrefix(p);
    if (ctx.is('-')) {
      ctx.next();
      const toTok = ctx.word('an address');
      const to = parseAddress(toTok.text);
      if (!to || to.af !== p.af || text.includes('/'))
        throw new RuleSyntaxError(toTok.loc, `invalid address range '${text} - ${toTok.text}'`);
      return [{ addr: { kind: 'range', from: prefix, to: hostPrefix(to), neg }, af: p.af, loc }];
    }
    checkFamily(spec, p.af, text, loc);
    return [{ addr: { kind: 'prefix', prefix, neg }, af: p.af, loc }];
  }
  if (/^[0-9.]+\/[0-9]+$/.test(text) || (text.includes('/') && parseAddress(text.slice(0, text.indexOf('/')))))
    throw new RuleSyntaxError(loc, `invalid prefix length in '${text}'`);
  return interfaceAddresses(ctx, text, loc).map((prefix) => {
    const addr: AddressSpec = { kind: 'prefix', prefix, neg };
    return { addr, af: prefix.af, loc };
  });
}

/** `fe80::1%lan`: pfctl binds the rule to the interface the scope names (see expand-rule.ts). */
function scopedHost(
  ctx: ParserContext,
  spec: RuleSpec,
  scoped: { prefix: ParsedPrefix; scope: string },
  text: string,
  neg: boolean,
  loc: SourceLocation,
): HostItem {
  if (/^[0-9]+$/.test(scoped.scope))
    throw new RuleSyntaxError(loc, `${text}: numeric scopes are not supported by tunpf; name the interface`);
  if (ctx.interfaces.size > 0 && !ctx.interfaces.has(scoped.scope))
    throw new RuleSyntaxError(
      loc,
      `no such interface '${scoped.scope}' for the scope of ${text}; ` +
        `check describes one with --interface ${scoped.scope}=ADDR/LEN`,
    );
  checkFamily(spec, 6, text, loc);
  return { addr: { kind: 'prefix', prefix: networkPrefix(scoped.prefix), neg }, af: 6, loc, scope: scoped.scope };
}

function checkFamily(spec: RuleSpec, af: 4 | 6, text: string, loc: SourceLocation): void {
  if (spec.af !== 0 && spec.af !== af)
    throw new RuleSyntaxError(
      loc,
      `address ${text} is ${af === 4 ? 'IPv4' : 'IPv6'} but the rule is ${spec.af === 4 ? 'inet' : 'inet6'}`,
    );
}

const PORT_OPS: readonly string[] = ['=', '!=', '<', '<=', '>', '>='];

function portItem(ctx: ParserContext): PortSpec {
  const t = ctx.peek();
  if (t.kind === 'punct' && PORT_OPS.includes(t.text)) {
    ctx.next();
    const v = portValue(ctx);
    return { op: t.text as PortOp, low: v, high: v };
  }
  const w = ctx.word('a port');
  if (w.text.includes(':')) {
    const [a, b] = w.text.split(':');
    const low = portText(ctx, a!, w.loc);
    const high = portText(ctx, b!, w.loc);
    if (low > high) throw new RuleSyntaxError(w.loc, `invalid port range ${w.text}: ${low} > ${high}`);
    return { op: ':', low, high };
  }
  const low = portText(ctx, w.text, w.loc);
  if (ctx.is('><') || ctx.is('<>')) {
    const op = ctx.next().text as PortOp;
    const high = portValue(ctx);
    if (low > high) throw new RuleSyntaxError(w.loc, `invalid port range ${low} ${op} ${high}`);
    return { op, low, high };
  }
  return { op: '=', low, high: low };
}

function portValue(ctx: ParserContext): number {
  const t = ctx.word('a port');
  return portText(ctx, t.text, t.loc);
}

/** A port number or name, with the host's service names first (see services.ts). */
export function portText(ctx: ParserContext, text: string, loc: SourceLocation): number {
  const n = lookupPort(text, ctx.opts.services);
  if (n === undefined) throw new RuleSyntaxError(loc, portError(text));
  return n;
}
