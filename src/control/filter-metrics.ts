// The filter's metrics: packets, bytes, verdicts by reason, states and
// their churn, per-rule and per-table counters. Read at scrape time from
// the same context the control commands use.

import type { FilterContext } from './filter-context.js';
import { showInfo, showRules, showTables } from './filter-commands.js';
import { byLabel, single, type MetricFamily, type MetricsProvider } from './metrics.js';
import type { LogInterfaceInfo } from './results.js';

/** `set loginterface`: pfctl -si's Interface Stats, labelled by interface, family, direction (and verdict). */
function logInterfaceMetrics(li: LogInterfaceInfo): MetricFamily[] {
  const families = [
    ['ipv4', li.ipv4],
    ['ipv6', li.ipv6],
  ] as const;
  return [
    {
      name: 'tunpf_loginterface_bytes_total',
      help: 'Bytes checked on the interface of set loginterface, since it was named.',
      type: 'counter',
      samples: families.flatMap(([family, c]) => [
        { labels: { interface: li.name, family, direction: 'in' }, value: c.bytesIn },
        { labels: { interface: li.name, family, direction: 'out' }, value: c.bytesOut },
      ]),
    },
    {
      name: 'tunpf_loginterface_packets_total',
      help: 'Packets checked on the interface of set loginterface, since it was named, by verdict.',
      type: 'counter',
      samples: families.flatMap(([family, c]) => [
        { labels: { interface: li.name, family, direction: 'in', verdict: 'pass' }, value: c.packetsInPassed },
        { labels: { interface: li.name, family, direction: 'in', verdict: 'block' }, value: c.packetsInBlocked },
        { labels: { interface: li.name, family, direction: 'out', verdict: 'pass' }, value: c.packetsOutPassed },
        { labels: { interface: li.name, family, direction: 'out', verdict: 'block' }, value: c.packetsOutBlocked },
      ]),
    },
  ];
}

export function filterMetrics(ctx: FilterContext): MetricsProvider {
  return () => {
    const info = showInfo(ctx);
    const rules = showRules(ctx).rules;
    const tables = showTables(ctx).tables;
    const ruleLabels = (r: (typeof rules)[number]) => ({ rule: r.nr, label: r.label ?? '' });
    const perRule = (
      name: string,
      help: string,
      type: 'counter' | 'gauge',
      pick: (r: (typeof rules)[number]) => number,
    ): MetricFamily => ({
      name,
      help,
      type,
      samples: rules.map((r) => ({ labels: ruleLabels(r), value: pick(r) })),
    });
    const f = info.filter;
    const out: MetricFamily[] = [
      single('tunpf_start_time_seconds', 'When the daemon started, seconds since the epoch.', 'gauge', ctx.startedAt),
      {
        name: 'tunpf_filter_packets_total',
        help: 'Packets checked by the filter (a forwarded packet is checked in and out), by verdict.',
        type: 'counter',
        samples: [
          { labels: { verdict: 'pass' }, value: f.passed },
          { labels: { verdict: 'block' }, value: f.blocked },
        ],
      },
      single('tunpf_filter_bytes_total', 'Bytes checked by the filter.', 'counter', f.bytes),
      byLabel(
        'tunpf_filter_verdicts_total',
        'Filter verdicts by reason: rule, state, or why a packet was dropped.',
        'counter',
        'reason',
        f.verdicts,
      ),
      byLabel(
        'tunpf_filter_malformed_total',
        'Malformed packets dropped, by parse error.',
        'counter',
        'error',
        f.malformed,
      ),
      byLabel('tunpf_pf_counters_total', "pf's counters (pfctl -si).", 'counter', 'counter', info.counters),
      single('tunpf_states', 'States in the table.', 'gauge', info.states.current),
      single('tunpf_states_limit', 'The state table size.', 'gauge', info.states.limit),
      single('tunpf_state_searches_total', 'State lookups.', 'counter', info.states.searches),
      single('tunpf_state_inserts_total', 'States created.', 'counter', info.states.inserts),
      single(
        'tunpf_state_removals_total',
        'States removed (expired, killed, flushed, closed).',
        'counter',
        info.states.removals,
      ),
      single('tunpf_state_expired_total', 'States removed because they timed out.', 'counter', info.states.expired),
      byLabel(
        'tunpf_state_drops_total',
        'Packets dropped or states refused by state tracking, by reason.',
        'counter',
        'reason',
        info.stateDrops,
      ),
      single('tunpf_source_nodes', 'Source-tracking nodes.', 'gauge', info.sourceNodes),
      single('tunpf_rules', 'Rules in the running ruleset.', 'gauge', info.rules),
      perRule(
        'tunpf_rule_evaluations_total',
        'Times a rule was evaluated (since the ruleset was loaded).',
        'counter',
        (r) => r.evaluations,
      ),
      perRule('tunpf_rule_packets_total', 'Packets a rule decided.', 'counter', (r) => r.packets),
      perRule('tunpf_rule_bytes_total', 'Bytes of the packets a rule decided.', 'counter', (r) => r.bytes),
      perRule('tunpf_rule_states', 'States a rule holds.', 'gauge', (r) => r.states),
      perRule('tunpf_rule_state_creations_total', 'States a rule created.', 'counter', (r) => r.stateCreations),
      {
        name: 'tunpf_table_entries',
        help: 'Entries of a table.',
        type: 'gauge',
        samples: tables.map((t) => ({ labels: { table: t.name }, value: t.count })),
      },
      {
        name: 'tunpf_table_lookups_total',
        help: 'Table lookups, by result.',
        type: 'counter',
        samples: tables.flatMap((t) => [
          { labels: { table: t.name, result: 'match' }, value: t.matches },
          { labels: { table: t.name, result: 'miss' }, value: t.misses },
        ]),
      },
    ];
    const fw = info.forward;
    if (fw) {
      out.push(
        {
          name: 'tunpf_packets_total',
          help: 'Packets read from the TUNs (in) and written back (out).',
          type: 'counter',
          samples: [
            { labels: { direction: 'in' }, value: fw.packetsIn },
            { labels: { direction: 'out' }, value: fw.packetsOut },
          ],
        },
        single('tunpf_bytes_total', 'Bytes read from the TUNs.', 'counter', fw.bytesIn),
        single('tunpf_forward_dropped_total', 'Packets not forwarded (blocked or unreadable).', 'counter', fw.dropped),
        single(
          'tunpf_forward_no_route_total',
          'Packets with no route in the mirror (left to the kernel).',
          'counter',
          fw.noRoute,
        ),
        single(
          'tunpf_forward_replies_total',
          'RSTs and ICMP errors sent for block return rules.',
          'counter',
          fw.replies,
        ),
        single('tunpf_forward_batches_total', 'Batches read from the TUNs.', 'counter', fw.batches),
      );
    }
    const li = info.loginterface;
    if (li) out.push(...logInterfaceMetrics(li));
    const fr = info.fragments;
    if (fr) {
      out.push(
        single(
          'tunpf_fragments_held',
          'Fragments held for reassembly (set limit frags bounds them).',
          'gauge',
          fr.held,
        ),
        single('tunpf_fragments_reassembled_total', 'Datagrams reassembled from fragments.', 'counter', fr.reassembled),
        byLabel(
          'tunpf_fragments_dropped_total',
          'Fragments dropped: bad or overlapping (fragment), over the limit (memory), or held ones with their ' +
            'datagram (expired, flushed, discarded).',
          'counter',
          'reason',
          fr.dropped,
        ),
      );
    }
    return out;
  };
}
