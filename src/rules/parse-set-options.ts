// `set ...` statements: the ruleset's global options.

import { DEFAULT_TIMEOUTS, MAX_STATE_LIMIT, type Options } from './ast.js';
import { parseReassemble } from './parse-scrub.js';
import { RuleSyntaxError, type ParserContext } from './parser-context.js';
import { nameText } from './print-quote.js';
import { isUnsupported, unsupported } from './unsupported.js';

const LIMIT_NAMES: Record<string, keyof Options['limits']> = {
  states: 'states',
  'src-nodes': 'srcNodes',
  frags: 'frags',
  tables: 'tables',
  'table-entries': 'tableEntries',
};

/** syslog's levels, as pfctl's `set debug` takes them. */
const DEBUG_LEVELS = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];

/** pfctl's pf_hints: the TCP timeouts `set optimization` sets; `normal` is pf's defaults. */
const HINTED = [
  'tcp.first',
  'tcp.opening',
  'tcp.established',
  'tcp.closing',
  'tcp.finwait',
  'tcp.closed',
  'tcp.tsdiff',
];
const NORMAL = Object.fromEntries(HINTED.map((n) => [n, DEFAULT_TIMEOUTS[n]!]));
const SATELLITE = {
  'tcp.first': 180,
  'tcp.opening': 35,
  'tcp.established': 86400,
  'tcp.closing': 905,
  'tcp.finwait': 50,
  'tcp.closed': 95,
  'tcp.tsdiff': 60,
};
const OPTIMIZATION_HINTS: Record<string, Record<string, number>> = {
  normal: NORMAL,
  satellite: SATELLITE,
  'high-latency': SATELLITE,
  conservative: {
    'tcp.first': 3600,
    'tcp.opening': 900,
    'tcp.established': 432000,
    'tcp.closing': 3600,
    'tcp.finwait': 600,
    'tcp.closed': 180,
    'tcp.tsdiff': 60,
  },
  aggressive: {
    'tcp.first': 30,
    'tcp.opening': 5,
    'tcp.established': 18000,
    'tcp.closing': 60,
    'tcp.finwait': 30,
    'tcp.closed': 30,
    'tcp.tsdiff': 10,
  },
};

/** After `set`. */
export function parseSetOption(ctx: ParserContext): void {
  const t = ctx.word('an option name');
  const options = ctx.options;
  const mark = (n: string, ...lines: string[]) => {
    if (!ctx.optionsSet.includes(n)) ctx.optionsSet.push(n);
    for (const text of lines) ctx.echo.push({ kind: 'set', text: `set ${n} ${text}` });
  };
  switch (t.text) {
    case 'skip': {
      ctx.expect('on');
      const names = ctx.list(() => ctx.word('an interface name').text);
      options.skip.push(...names);
      mark('skip', `on { ${names.map(nameText).join(' ')} }`);
      return;
    }
    case 'block-policy': {
      const v = ctx.word('drop or return');
      if (v.text !== 'drop' && v.text !== 'return')
        throw new RuleSyntaxError(v.loc, `block-policy must be drop or return, not '${v.text}'`);
      options.blockPolicy = v.text;
      mark('block-policy', v.text);
      return;
    }
    case 'state-policy': {
      const v = ctx.word('floating or if-bound');
      if (v.text !== 'floating' && v.text !== 'if-bound')
        throw new RuleSyntaxError(v.loc, `state-policy must be floating or if-bound, not '${v.text}'`);
      options.statePolicy = v.text;
      mark('state-policy', v.text);
      return;
    }
    case 'timeout': {
      const pairs = ctx.list(() => timeoutPair(ctx));
      for (const { name, value } of pairs) options.timeouts[name] = value;
      mark('timeout', ...pairs.map(({ name, value }) => `${name} ${value}`));
      return;
    }
    case 'limit': {
      const pairs = ctx.list(() => {
        const n = ctx.word('a limit name');
        const key = LIMIT_NAMES[n.text];
        if (!key)
          throw new RuleSyntaxError(
            n.loc,
            `unknown limit '${n.text}' (states, src-nodes, frags, tables, table-entries)`,
          );
        // every value check accepts must also run: the state table's size has a ceiling
        const value = ctx.number('a limit', 1, key === 'states' ? MAX_STATE_LIMIT : 2 ** 31 - 1);
        return { key, value, name: n.text };
      });
      for (const { key, value } of pairs) options.limits[key] = value;
      mark('limit', ...pairs.map(({ name, value }) => `${name} ${value}`));
      return;
    }
    case 'loginterface': {
      const v = ctx.word('an interface name or none');
      options.loginterface = v.text === 'none' ? null : v.text;
      mark('loginterface', nameText(v.text));
      return;
    }
    case 'hostid': {
      const id = ctx.number('a host id', 1, 0xffffffff);
      options.hostid = id;
      mark('hostid', `0x${id.toString(16).padStart(8, '0')}`);
      return;
    }
    case 'debug': {
      const v = ctx.word('a debug level');
      if (!DEBUG_LEVELS.includes(v.text))
        throw new RuleSyntaxError(v.loc, `unknown debug level '${v.text}' (${DEBUG_LEVELS.join(', ')})`);
      options.debug = v.text;
      mark('debug', nameText(options.debug));
      return;
    }
    case 'optimization': {
      const v = ctx.word('an optimization');
      const hint = OPTIMIZATION_HINTS[v.text];
      if (!hint)
        throw new RuleSyntaxError(
          v.loc,
          `unknown optimization '${v.text}' (${Object.keys(OPTIMIZATION_HINTS).join(', ')})`,
        );
      // as pfctl_set_optimization: the hint's timeouts are set (quietly) here, in file order with `set timeout`
      for (const [name, value] of Object.entries(hint)) options.timeouts[name] = value;
      options.optimization = v.text;
      mark('optimization', nameText(options.optimization));
      return;
    }
    case 'ruleset-optimization': {
      const v = ctx.word('none, basic or profile');
      if (!['none', 'basic', 'profile'].includes(v.text))
        throw new RuleSyntaxError(v.loc, `ruleset-optimization must be none, basic or profile, not '${v.text}'`);
      options.ruleset = v.text;
      mark('ruleset-optimization');
      return;
    }
    case 'reassemble':
      options.reassemble = parseReassemble(ctx, t.loc);
      // pfctl's "set reassemble %s %s": a space stays after yes/no without no-df
      mark('reassemble', `${options.reassemble.on ? 'yes' : 'no'} ${options.reassemble.noDf ? 'no-df' : ''}`);
      return;
    default: {
      if (isUnsupported(`set ${t.text}`)) throw unsupported(t.loc, `set ${t.text}`);
      throw new RuleSyntaxError(t.loc, `unknown option 'set ${t.text}'`);
    }
  }
}

function timeoutPair(ctx: ParserContext): { name: string; value: number } {
  const n = ctx.word('a timeout name');
  if (!(n.text in DEFAULT_TIMEOUTS)) throw new RuleSyntaxError(n.loc, `unknown timeout '${n.text}'`);
  return { name: n.text, value: ctx.number('seconds', 0, 2 ** 31 - 1) };
}
