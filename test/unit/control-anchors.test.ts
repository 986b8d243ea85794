// Anchors at run time over the control commands: load a file into an
// anchor (a bad file changes nothing and says where), show its rules
// numbered from 0, flush it; states its rules made outlive the flush; a
// reload of the main ruleset keeps anchors it does not fill.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { anchorFlush, anchorLoad, showAnchorRules } from '../../src/control/anchor-commands.js';
import type { FilterContext } from '../../src/control/filter-commands.js';
import { killStates, reload } from '../../src/control/filter-commands.js';
import { formatStates } from '../../src/control/format.js';
import { queryStates } from '../../src/control/state-query.js';
import { ControlError } from '../../src/control/server.js';
import { loadRulesetFile } from '../../src/rules/load-file.js';
import { TEST_INTERFACES } from './helpers/filter-harness.js';
import { Flow, TcpPair, replyOf } from './helpers/flow.js';

const MAIN = 'block all\nanchor "guard/*"\nanchor "relay" in on lan\n';

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'tunpf-anchor-'));
  const main = join(dir, 'main.conf');
  writeFileSync(main, MAIN);
  const f = new Flow(MAIN);
  const ctx: FilterContext = {
    filter: () => f.filter,
    states: f.states,
    forwardCounters: () => null,
    now: () => f.now,
    startedAt: f.now,
    loadRuleset: (file, anchor) => loadRulesetFile(file, { interfaces: TEST_INTERFACES, anchorPath: anchor }),
    applyRuleset: (rs) => f.filter.reload(rs),
  };
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  return { f, ctx, file, main };
}

test('load, show and flush an anchor; the main ruleset is untouched', () => {
  const { f, ctx, file } = setup();
  const r = anchorLoad(ctx, { anchor: 'relay', file: file('relay.conf', 'pass in proto tcp to port 22\npass in\n') });
  assert.equal(r.rules, 2);
  const shown = showAnchorRules(ctx, { anchor: '/relay/' });
  assert.deepEqual(
    shown.rules.map((x) => `@${x.nr} ${x.text}`),
    ['@0 pass in proto tcp from any to any port = 22 flags S/SA', '@1 pass in all flags S/SA'],
  );
  assert.equal(f.filter.rules.count, 3);
  assert.deepEqual(anchorFlush(ctx, { anchor: 'relay' }), { anchor: 'relay', flushed: 2 });
  assert.equal(showAnchorRules(ctx, { anchor: 'relay' }).rules.length, 0);
});

test('a file with errors is refused with file:line:col and the running anchor stays', () => {
  const { ctx, file } = setup();
  anchorLoad(ctx, { anchor: 'relay', file: file('good.conf', 'pass in\n') });
  const bad = file('bad.conf', 'pass in\npass in proto nosuch\n');
  assert.throws(
    () => anchorLoad(ctx, { anchor: 'relay', file: bad }),
    (e: unknown) => e instanceof ControlError && !!e.details?.some((d) => d.includes(`${bad}:2:15`)),
  );
  assert.equal(showAnchorRules(ctx, { anchor: 'relay' }).rules.length, 1);
});

test('unknown anchors and bad names are refused', () => {
  const { ctx } = setup();
  assert.throws(() => showAnchorRules(ctx, { anchor: 'nosuch' }), /no anchor 'nosuch'/);
  assert.throws(() => anchorFlush(ctx, { anchor: 'a/*' }), /not an anchor name/);
  assert.throws(() => showAnchorRules(ctx, { anchor: '' }), /anchor name is needed/);
});

const syn = (port: number) => new TcpPair('192.168.1.10', '203.0.113.5', port, 22);

test('rules loaded into an anchor decide packets; their states outlive a flush', () => {
  const { f, ctx, file } = setup();
  assert.equal(f.outcome(syn(40000).c('S')), 'block:rule');
  anchorLoad(ctx, { anchor: 'relay', file: file('ssh.conf', 'pass in proto tcp to port 22\n') });
  const c = syn(40001);
  assert.equal(f.outcome(c.c('S')), 'pass:new');
  anchorFlush(ctx, { anchor: 'relay' });
  assert.equal(f.outcome(syn(40002).c('S')), 'block:rule', 'new connections are blocked');
  assert.equal(f.outcome(replyOf(c.s('SA'))), 'pass:state', 'the state made by the flushed rule passes its reply');
});

test('wildcard anchors see children loaded at run time; a main reload keeps them', () => {
  const { f, ctx, file, main } = setup();
  anchorLoad(ctx, { anchor: 'guard/ssh', file: file('g.conf', 'pass in quick proto tcp to port 22\n') });
  assert.equal(f.outcome(syn(40000).c('S')), 'pass:new');
  reload(ctx, { file: main });
  assert.equal(showAnchorRules(ctx, { anchor: 'guard/ssh' }).rules.length, 1);
  assert.equal(f.outcome(syn(40003).c('S')), 'pass:new');
});

test("a state made by an anchor's rule names the anchor and that rule; kill by its label finds it", () => {
  const { f, ctx, file } = setup();
  anchorLoad(ctx, {
    anchor: 'relay',
    file: file('r.conf', 'pass in proto udp\npass in proto tcp to port 22 label "ssh"\n'),
  });
  assert.equal(f.outcome(syn(40000).c('S')), 'pass:new');
  const [s] = queryStates(f.states, f.filter.interfaces, {}, f.now, f.filter.rules).states;
  assert.equal(s!.rule, 1);
  assert.equal(s!.anchor, 'relay');
  assert.match(formatStates({ total: 1, matched: 1, states: [s!] }, 1), /rule 1 in anchor relay/);
  const main = queryStates(f.states, f.filter.interfaces, {}, f.now).states[0]!;
  assert.equal(main.anchor, undefined, 'without the rules, the id stays as it is');
  assert.deepEqual(killStates(ctx, { label: 'ssh' }), { killed: 1 });
});
