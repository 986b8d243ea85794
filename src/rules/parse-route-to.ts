// Routing options of pass rules: `route-to`, `reply-to`, `dup-to`, each with
// one target or a `{ list }` and pool options. A target is `(IF NEXTHOP)`
// (an interface and the next hop on it), `IF` (out of that interface to the
// packet's own destination) or `NEXTHOP` (OpenBSD 7.x: the interface is the
// one the routing table reaches the next hop by). Kept as written (RouteSpec);
// expand-rule.ts fits it to each expanded rule's family and checks it as pfctl does.

import { parseAddress } from '../packet/address.js';
import type { Prefix, RouteKind } from './ast.js';
import type { RouteSpec, RouteTargetItem, RuleSpec } from './rule-spec.js';
import { hostPrefix } from './parse-hosts.js';
import { poolOptions } from './parse-translation.js';
import { RuleSyntaxError, type ParserContext } from './parser-context.js';
import { readAddressText } from './tokenizer.js';

export const ROUTE_KEYWORDS: ReadonlySet<string> = new Set(['route-to', 'reply-to', 'dup-to']);

/** At `route-to`, `reply-to` or `dup-to`: reads the option into the rule. */
export function parseRouteOption(ctx: ParserContext, spec: RuleSpec): void {
  const kw = ctx.next();
  if (spec.route) throw new RuleSyntaxError(kw.loc, 'cannot respecify route-to/reply-to/dup-to');
  const items = ctx.is('{') ? ctx.list(() => routeTarget(ctx)) : routeTarget(ctx);
  const r: RouteSpec = { kind: kw.text as RouteKind, loc: kw.loc, items, type: 'none', hashKey: null, sticky: false };
  // static-port: refused here, as it only means something for nat-to
  poolOptions(ctx, r);
  spec.route = r;
}

function routeTarget(ctx: ParserContext): RouteTargetItem[] {
  const loc = ctx.peek().loc;
  if (ctx.is('<')) throw new RuleSyntaxError(loc, 'tables as route targets are not supported by tunpf');
  if (ctx.accept('(')) {
    const w = ctx.word('an interface name');
    if (ctx.accept(')')) {
      // OpenBSD reads `(em0)` as the interface's address, which only `:peer` makes a next hop
      if (w.text.endsWith(':peer'))
        throw new RuleSyntaxError(w.loc, `(${w.text}): dynamic route targets are not supported by tunpf`);
      throw new RuleSyntaxError(w.loc, 'route spec requires :peer with dynamic interface addresses');
    }
    const nexthop = nextHop(ctx);
    ctx.expect(')');
    return [{ ifname: w.text, nexthop, af: nexthop.af, loc }];
  }
  const t = ctx.peek();
  // an address has digits and dots (IPv4) or colons (IPv6); any other word names an interface
  if (t.kind === 'word' && !/^[0-9.]+$/.test(t.text) && !t.text.includes(':') && !parseAddress(t.text)) {
    ctx.next();
    if (t.text.includes('@')) throw new RuleSyntaxError(t.loc, '@if not permitted for routing');
    return [{ ifname: t.text, nexthop: null, af: 0, loc }];
  }
  const nexthop = nextHop(ctx);
  return [{ ifname: null, nexthop, af: nexthop.af, loc }];
}

function nextHop(ctx: ParserContext): Prefix {
  const w = readAddressText(ctx, 'a next-hop address');
  if (w.text.includes('@')) throw new RuleSyntaxError(w.loc, '@if not permitted for routing');
  const slash = w.text.indexOf('/');
  const a = parseAddress(slash < 0 ? w.text : w.text.slice(0, slash));
  if (!a) throw new RuleSyntaxError(w.loc, `invalid next-hop address '${w.text}'`);
  if (slash >= 0 && w.text.slice(slash + 1) !== String(a.af === 4 ? 32 : 128))
    throw new RuleSyntaxError(w.loc, `a next hop is one address, not the network '${w.text}'`);
  return hostPrefix(a);
}
