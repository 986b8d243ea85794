// Anchors (pf.conf(5) ANCHORS): `anchor ["name"] [in|out] [quick] [on IF]
// [inet|inet6] [proto P] HOSTS [OPTIONS] [{ body }]` and `load anchor "name"
// from "file"`. An anchor rule names a ruleset that is evaluated in place
// when the rule's criteria match; names are relative to the anchor the rule
// is in (a leading '/' makes them absolute), and `name/*` calls the children
// of `name`. The anchors' rulesets live beside the main one, by full path,
// each numbered from 0 (Ruleset.anchors).

import type { AnchorCall, AnchorDef, SourceLocation } from './ast.js';
import { expandRuleSpec } from './expand-rule.js';
import { interfaceItem, parseHosts } from './parse-hosts.js';
import { parseFilterOptions } from './parse-rule-options.js';
import { newRuleSpec, protoItem } from './parse-rule.js';
import { RuleSyntaxError, type ParseOptions, type ParseResult, type ParserContext } from './parser-context.js';

/** pf's PF_ANCHOR_STACK_MAX: how deep anchors may call anchors. */
export const MAX_ANCHOR_DEPTH = 64;

/** Words that may follow `anchor` in place of a name. */
const CRITERIA = new Set(['in', 'out', 'quick', 'on', 'inet', 'inet6', 'proto', 'from', 'to', 'all', '{']);

/**
 * At `anchor`. `statement` reads one statement of an inline body (the
 * statement loop's own, so a body holds what a file holds).
 */
export function parseAnchorRule(ctx: ParserContext, statement: (ctx: ParserContext) => void): void {
  const first = ctx.next();
  const nameTok = ctx.peek();
  let written = '';
  if (nameTok.kind === 'string' || (nameTok.kind === 'word' && !CRITERIA.has(nameTok.text))) {
    written = ctx.next().text;
    if (written === '') throw new RuleSyntaxError(nameTok.loc, 'anchor name is empty');
  }
  const wildcard = written === '*' || written.endsWith('/*');
  const spec = newRuleSpec('anchor', first.loc);
  if (ctx.accept('in')) spec.direction = 'in';
  else if (ctx.accept('out')) spec.direction = 'out';
  if (ctx.accept('quick')) spec.quick = true;
  if (ctx.accept('on')) spec.ifaces = ctx.list(() => interfaceItem(ctx));
  if (ctx.accept('inet')) spec.af = 4;
  else if (ctx.accept('inet6')) spec.af = 6;
  if (ctx.accept('proto')) spec.protos = ctx.list(() => protoItem(ctx));
  parseHosts(ctx, spec);
  parseFilterOptions(ctx, spec, true);
  if (spec.stateExplicit || spec.hasStateOptions || spec.nat || spec.rdr || spec.allowOpts)
    throw new RuleSyntaxError(first.loc, 'anchor rules take no state, translation or allow-opts options');
  const inline = ctx.is('{');
  if (!inline && written === '') throw ctx.unexpected(ctx.peek(), 'an anchor name or an inline body');
  if (inline && wildcard) throw new RuleSyntaxError(nameTok.loc, `wildcard anchor '${written}' cannot have a body`);
  const name = written === '' ? `_${++ctx.unnamedAnchors}` : written;
  const call: AnchorCall = { written, path: resolveAnchorPath(ctx, name, nameTok.loc), wildcard };
  if (wildcard) call.path = call.path.slice(0, call.path.length - (call.path.endsWith('/*') ? 2 : 1));
  const { rules, errors } = expandRuleSpec(spec, ctx.rules.length);
  for (const e of errors) ctx.error(e.loc, e.message);
  for (const r of rules) r.anchor = call;
  ctx.rules.push(...rules);
  if (inline) inlineBody(ctx, call.path, statement);
}

/**
 * At `load`: `load anchor NAME from FILE`, read at once as pfctl reads it after the main ruleset, by
 * `parseRuleset` (the file parser's own, passed in as `statement` is for inline bodies).
 */
export function parseLoadAnchor(
  ctx: ParserContext,
  parseRuleset: (text: string, opts: ParseOptions) => ParseResult,
): void {
  const first = ctx.next();
  ctx.expect('anchor');
  const nameTok = ctx.word('an anchor name');
  ctx.expect('from');
  const fileTok = ctx.word('a file name');
  if (nameTok.text.endsWith('*')) throw new RuleSyntaxError(nameTok.loc, 'cannot load into a wildcard anchor');
  const path = resolveAnchorPath(ctx, nameTok.text, nameTok.loc);
  if (!ctx.opts.readAnchorFile) throw new RuleSyntaxError(first.loc, 'load anchor: no files can be read here');
  let text: string;
  try {
    text = ctx.opts.readAnchorFile(fileTok.text);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new RuleSyntaxError(fileTok.loc, `load anchor: cannot read ${fileTok.text}: ${code}`);
  }
  const inner = parseRuleset(text, { ...ctx.opts, file: fileTok.text, anchorPath: path, defines: undefined });
  for (const d of inner.diagnostics) ctx.diagnostics.push(d);
  ctx.omitted += inner.omitted;
  if (!inner.ruleset) return;
  for (const t of inner.ruleset.tables) if (!ctx.tables.has(t.name)) ctx.tables.set(t.name, t);
  addAnchor(ctx, { path, rules: inner.ruleset.rules, loc: nameTok.loc });
  for (const a of inner.ruleset.anchors) addAnchor(ctx, a);
}

/** An anchor's full path from the name written in the anchor `ctx` is reading. */
export function resolveAnchorPath(ctx: ParserContext, name: string, loc: SourceLocation): string {
  const parts = name.startsWith('/') ? [] : ctx.anchorPath.split('/').filter((p) => p !== '');
  for (const p of name.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (parts.length === 0) throw new RuleSyntaxError(loc, `anchor '${name}' goes above the main ruleset`);
      parts.pop();
    } else parts.push(p);
  }
  if (parts.length === 0) throw new RuleSyntaxError(loc, `anchor '${name}' names the main ruleset`);
  if (parts.length > MAX_ANCHOR_DEPTH) throw new RuleSyntaxError(loc, `anchor '${name}' is nested too deeply`);
  return parts.join('/');
}

/** At `{`: the body's statements up to the matching `}`, into the anchor at `path`. */
function inlineBody(ctx: ParserContext, path: string, statement: (ctx: ParserContext) => void): void {
  const open = ctx.next();
  const saved = { rules: ctx.rules, path: ctx.anchorPath };
  ctx.rules = [];
  ctx.anchorPath = path;
  try {
    while (true) {
      const t = ctx.peek();
      if (t.kind === 'eof') throw new RuleSyntaxError(open.loc, "anchor body has no closing '}'");
      if (t.kind === 'newline') {
        ctx.pos++;
        continue;
      }
      if (ctx.accept('}')) break;
      try {
        statement(ctx);
        const end = ctx.peek();
        if (end.kind !== 'newline' && end.kind !== 'eof' && !ctx.is('}')) throw ctx.unexpected(end, 'end of line');
      } catch (e) {
        if (!(e instanceof RuleSyntaxError)) throw e;
        ctx.error(e.loc, e.message);
        skipToLineEndOrBrace(ctx);
      }
    }
    addAnchor(ctx, { path, rules: ctx.rules, loc: open.loc });
  } finally {
    ctx.rules = saved.rules;
    ctx.anchorPath = saved.path;
  }
}

function skipToLineEndOrBrace(ctx: ParserContext): void {
  while (true) {
    const t = ctx.tokens[ctx.pos]!;
    if (t.kind === 'eof' || (t.kind === 'punct' && t.text === '}')) return;
    ctx.pos++;
    if (t.kind === 'newline') return;
  }
}

/** A second body for the same anchor adds to its rules, numbered on, as pfctl appends them. */
function addAnchor(ctx: ParserContext, def: AnchorDef): void {
  const had = ctx.anchors.get(def.path);
  if (!had) {
    ctx.anchors.set(def.path, def);
    return;
  }
  for (const r of def.rules) had.rules.push({ ...r, nr: had.rules.length });
}
