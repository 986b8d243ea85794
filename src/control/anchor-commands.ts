// Anchors at run time (pfctl -a NAME -f FILE, -a NAME -sr, -a NAME -F rules):
// tools that manage their own rules load, show and flush one anchor while
// the main ruleset and the other anchors stay. A file with errors changes
// nothing; states made by an anchor's rules outlive its flush, as in pf.

import { errorCount, formatDiagnostics } from '../rules/diagnostic-text.js';
import { RulesetReadError, type LoadResult } from '../rules/load-file.js';
import type { FilterContext } from './filter-context.js';
import { ErrorCode } from './protocol.js';
import { ruleRows } from './rule-rows.js';
import type { AnchorFlushResult, AnchorLoadResult, ShowRulesResult } from './results.js';
import { anchorArgs, anchorLoadArgs, type AnchorArgs, type AnchorLoadArgs } from './schemas.js';
import { ControlError, type ControlServer } from './server.js';

/** An anchor path as pfctl -a takes it: no leading or trailing '/', no wildcard, no '..'. */
export function anchorPathArg(args: AnchorArgs): string {
  const raw = args.anchor;
  const parts = raw.split('/').filter((p) => p !== '');
  if (parts.length === 0) throw new ControlError(ErrorCode.BAD_ARGS, 'an anchor name is needed (-a NAME)');
  if (parts.some((p) => p === '*' || p === '.' || p === '..'))
    throw new ControlError(ErrorCode.BAD_ARGS, `'${raw}' is not an anchor name`);
  return parts.join('/');
}

export function anchorLoad(ctx: FilterContext, args: AnchorLoadArgs): AnchorLoadResult {
  if (!ctx.loadRuleset) throw new ControlError(ErrorCode.REFUSED, 'this daemon cannot load rules');
  const anchor = anchorPathArg(args);
  const file = args.file;
  let r: LoadResult;
  try {
    r = ctx.loadRuleset(file, anchor);
  } catch (e) {
    if (e instanceof RulesetReadError)
      throw new ControlError(ErrorCode.REFUSED, `${e.message}; anchor ${anchor} stays as it was`);
    throw e;
  }
  const texts = formatDiagnostics(r.diagnostics, r.sources, r.omitted);
  if (!r.ruleset) {
    const n = errorCount(r.diagnostics, r.omitted);
    throw new ControlError(
      ErrorCode.REFUSED,
      `${file}: ${n} error${n === 1 ? '' : 's'}, not loaded; anchor ${anchor} stays as it was`,
      texts,
    );
  }
  if (r.ruleset.tables.length > 0)
    throw new ControlError(ErrorCode.REFUSED, `${file}: tables cannot be defined in an anchor loaded at run time`);
  const f = ctx.filter();
  try {
    f.loadAnchor({ path: anchor, rules: r.ruleset.rules, loc: { file, line: 1, col: 1 } }, r.ruleset.anchors);
  } catch (e) {
    if (e instanceof RangeError)
      throw new ControlError(ErrorCode.REFUSED, `${e.message}; anchor ${anchor} stays as it was`);
    throw e;
  }
  return { anchor, file, rules: r.ruleset.rules.length, warnings: texts };
}

export function anchorFlush(ctx: FilterContext, args: AnchorArgs): AnchorFlushResult {
  const anchor = anchorPathArg(args);
  const f = ctx.filter();
  const before = f.rules.anchors.get(anchor)?.count ?? 0;
  if (!f.flushAnchor(anchor)) throw new ControlError(ErrorCode.NOT_FOUND, `no anchor '${anchor}'`);
  return { anchor, flushed: before };
}

/** One anchor's rules and counters, numbered from 0 as pf numbers them. */
export function showAnchorRules(ctx: FilterContext, args: AnchorArgs): ShowRulesResult {
  const anchor = anchorPathArg(args);
  const node = ctx.filter().rules.anchors.get(anchor);
  if (!node) throw new ControlError(ErrorCode.NOT_FOUND, `no anchor '${anchor}'`);
  return { rules: ruleRows(node, ctx.filter().rules, ctx.states), default: { packets: 0, bytes: 0 } };
}

export function registerAnchorCommands(server: ControlServer, ctx: FilterContext): void {
  server.register('anchor load', anchorLoadArgs, (a) => anchorLoad(ctx, a), { mutating: true });
  server.register('anchor flush', anchorArgs, (a) => anchorFlush(ctx, a), { mutating: true });
  server.register('anchor show rules', anchorArgs, (a) => showAnchorRules(ctx, a));
}
