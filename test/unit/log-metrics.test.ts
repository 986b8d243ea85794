// Prometheus' text format: exact rendering, escaping, merging, refusals;
// the filter's metrics checked with an independent reader of the format;
// the HTTP endpoint and its address rules.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { filterMetrics } from '../../src/control/filter-metrics.js';
import { MetricsEndpoint, parseListenAddress } from '../../src/control/metrics-http.js';
import { formatValue, MetricsRegistry, renderMetrics, type MetricFamily } from '../../src/control/metrics.js';
import { Flow, TcpPair } from './helpers/flow.js';
import { randomSource } from './helpers/random.js';
import { Direction } from '../../src/packet/meta.js';

/** A reader of the exposition format, written from its grammar (not from the renderer). */
function parseExposition(
  text: string,
): Map<string, { type: string; help: string; samples: { labels: Record<string, string>; value: number }[] }> {
  assert.ok(text === '' || text.endsWith('\n'), 'the last line ends with a newline');
  const out = new Map<
    string,
    { type: string; help: string; samples: { labels: Record<string, string>; value: number }[] }
  >();
  let current = '';
  for (const line of text.split('\n').slice(0, -1)) {
    let m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m) {
      assert.ok(!out.has(m[1]!), `one HELP per family: ${m[1]}`);
      out.set(m[1]!, { type: '', help: m[2]!.replace(/\\(n|\\)/g, (_, c) => (c === 'n' ? '\n' : '\\')), samples: [] });
      current = m[1]!;
      continue;
    }
    m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|untyped|histogram|summary)$/.exec(line);
    if (m) {
      assert.equal(m[1], current, 'TYPE follows its HELP');
      assert.equal(out.get(current)!.samples.length, 0, 'TYPE before the samples');
      out.get(current)!.type = m[2]!;
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `a sample line: ${JSON.stringify(line)}`);
    assert.equal(m[1], current, `samples of a family are together: ${m[1]}`);
    const labels: Record<string, string> = {};
    const body = m[2] ?? '';
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)/gy;
    let at = 0;
    while (at < body.length) {
      re.lastIndex = at;
      const l = re.exec(body);
      assert.ok(l, `labels parse: ${body}`);
      labels[l[1]!] = l[2]!.replace(/\\(["\\n])/g, (_, c) => (c === 'n' ? '\n' : c));
      at = re.lastIndex;
    }
    const v = m[3]!;
    const value = v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : v === 'NaN' ? NaN : Number(v);
    assert.ok(!Number.isNaN(value) || v === 'NaN', `a number: ${v}`);
    out.get(current)!.samples.push({ labels, value });
  }
  return out;
}

test('rendering: HELP and TYPE once per family, labels, special values, exactly', () => {
  const text = renderMetrics([
    { name: 'x_total', help: 'Some "things"\\n and\na newline.', type: 'counter', samples: [{ value: 3 }] },
    {
      name: 'y',
      help: 'Gauge.',
      type: 'gauge',
      samples: [
        { labels: { a: 'q"uo\\te\nnl', b: 7 }, value: 1.5 },
        { labels: { a: 'z' }, value: NaN },
        { value: Infinity },
      ],
    },
    {
      name: 'x_total',
      help: 'ignored: the first HELP wins',
      type: 'counter',
      samples: [{ labels: { k: 'v' }, value: 0 }],
    },
  ]);
  assert.equal(
    text,
    '# HELP x_total Some "things"\\\\n and\\na newline.\n# TYPE x_total counter\nx_total 3\nx_total{k="v"} 0\n' +
      '# HELP y Gauge.\n# TYPE y gauge\ny{a="q\\"uo\\\\te\\nnl",b="7"} 1.5\ny{a="z"} NaN\ny +Inf\n',
  );
  assert.equal(renderMetrics([]), '');
  assert.deepEqual([formatValue(-Infinity), formatValue(1e21), formatValue(0.25)], ['-Inf', '1e+21', '0.25']);
});

test('rendering refuses what a scraper would reject', () => {
  const fam = (f: Partial<MetricFamily>): MetricFamily => ({ name: 'ok', help: 'h', type: 'gauge', samples: [], ...f });
  assert.throws(() => renderMetrics([fam({ name: '1bad' })]), /invalid metric name/);
  assert.throws(
    () => renderMetrics([fam({ samples: [{ labels: { 'bad-label': 'x' }, value: 1 }] })]),
    /invalid label name 'bad-label'/,
  );
  assert.throws(
    () => renderMetrics([fam({ samples: [{ labels: { __reserved: 'x' }, value: 1 }] })]),
    /invalid label name/,
  );
  assert.throws(
    () =>
      renderMetrics([
        fam({
          samples: [
            { labels: { a: '1' }, value: 1 },
            { labels: { a: '1' }, value: 2 },
          ],
        }),
      ]),
    /duplicate sample \{a="1"\}/,
  );
  assert.throws(() => renderMetrics([fam({}), fam({ type: 'counter' })]), /both gauge and counter/);
});

test('label values of any text survive escaping (read back by the grammar)', () => {
  const rnd = randomSource('metrics-labels');
  const alphabet = ['a', '"', '\\', '\n', 'n', '{', '}', ',', '=', ' ', 'é', '😀'];
  const values = Array.from(
    { length: 200 },
    (_, i) =>
      `${i}:` +
      Array.from({ length: Math.floor(rnd() * 12) }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join(''),
  );
  const parsed = parseExposition(
    renderMetrics([
      { name: 'm', help: 'h', type: 'gauge', samples: values.map((v, i) => ({ labels: { v, i }, value: i })) },
    ]),
  );
  assert.deepEqual(
    parsed.get('m')!.samples.map((s) => s.labels.v),
    values,
  );
});

test("the filter's metrics after traffic: packets, verdicts, states, per-rule counters with labels", () => {
  const f = new Flow('block all\npass in on lan proto tcp from 192.168.1.0/24 to any label "web \\"x\\""\n');
  const c = new TcpPair();
  f.send(c.c('S'));
  f.send(c.s('SA'), Direction.OUT, 'lan');
  f.send(c.c('A', 10));
  f.send(new TcpPair('10.0.0.1').c('S'), Direction.IN, 'wan');
  const registry = new MetricsRegistry();
  registry.register(
    'filter',
    filterMetrics({
      filter: () => f.filter,
      states: f.states,
      forwardCounters: () => null,
      now: () => f.now,
      startedAt: 5,
    }),
  );
  const m = parseExposition(registry.render());
  const value = (name: string, labels: Record<string, string> = {}) => {
    const fam = m.get(name);
    assert.ok(fam, `family ${name}`);
    const s = fam.samples.find((x) => Object.entries(labels).every(([k, v]) => x.labels[k] === v));
    assert.ok(s, `${name} ${JSON.stringify(labels)}`);
    return s.value;
  };
  assert.equal(m.get('tunpf_filter_packets_total')!.type, 'counter');
  assert.equal(value('tunpf_filter_packets_total', { verdict: 'pass' }), 3);
  assert.equal(value('tunpf_filter_packets_total', { verdict: 'block' }), 1);
  assert.equal(value('tunpf_filter_verdicts_total', { reason: 'state' }), 2);
  assert.equal(value('tunpf_filter_verdicts_total', { reason: 'rule' }), 2);
  assert.equal(value('tunpf_states'), 1);
  assert.equal(m.get('tunpf_states')!.type, 'gauge');
  assert.equal(value('tunpf_state_inserts_total'), 1);
  assert.ok(value('tunpf_state_searches_total') >= 4);
  assert.equal(value('tunpf_rule_packets_total', { rule: '1', label: 'web "x"' }), 1);
  assert.equal(value('tunpf_rule_packets_total', { rule: '0', label: '' }), 1);
  assert.equal(value('tunpf_rule_states', { rule: '1' }), 1);
  assert.equal(value('tunpf_start_time_seconds'), 5);
  assert.equal(m.has('tunpf_packets_total'), false, 'no datapath, no datapath counters');
  for (const [name, fam] of m) if (fam.type === 'counter') assert.match(name, /_total$/);
});

test('a failing provider is left out and counted; the others still render', () => {
  const r = new MetricsRegistry();
  r.register('good', () => [{ name: 'good', help: 'g', type: 'gauge', samples: [{ value: 1 }] }]);
  r.register('bad', () => {
    throw new Error('broken');
  });
  const m = parseExposition(r.render());
  assert.equal(m.get('good')!.samples[0]!.value, 1);
  assert.deepEqual(m.get('tunpf_metrics_provider_failures_total')!.samples, [
    { labels: { provider: 'bad' }, value: 1 },
  ]);
  assert.throws(() => r.register('good', () => []), /registered twice/);
});

test('listen addresses: loopback only unless public', () => {
  assert.deepEqual(parseListenAddress('127.0.0.1:9180'), { host: '127.0.0.1', port: 9180 });
  assert.deepEqual(parseListenAddress('[::1]:9180'), { host: '::1', port: 9180 });
  assert.deepEqual(parseListenAddress('localhost:9180'), { host: '127.0.0.1', port: 9180 });
  assert.match(parseListenAddress('0.0.0.0:9180') as string, /not a loopback address; add --metrics-public/);
  assert.match(parseListenAddress('[::]:9180') as string, /not a loopback/);
  assert.deepEqual(parseListenAddress('10.1.0.1:9180', true), { host: '10.1.0.1', port: 9180 });
  assert.match(parseListenAddress('9180') as string, /not HOST:PORT/);
  assert.match(parseListenAddress('127.0.0.1:99999') as string, /not 1\.\.65535/);
  assert.match(parseListenAddress('example.org:80', true) as string, /not an IP address/);
});

function get(port: number, path: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('the endpoint serves /metrics, 404 elsewhere, 405 for other methods', async () => {
  const r = new MetricsRegistry();
  let n = 0;
  r.register('n', () => [{ name: 'scrapes', help: 'h', type: 'counter', samples: [{ value: ++n }] }]);
  const ep = new MetricsEndpoint(r, { host: '127.0.0.1', port: 0 });
  ep.start();
  try {
    for (let k = 0; k < 50 && ep.port === null; k++) await new Promise((res) => setTimeout(res, 10));
    const port = ep.port!;
    const ok = await get(port, '/metrics');
    assert.equal(ok.status, 200);
    assert.equal(ok.type, 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(ok.body, '# HELP scrapes h\n# TYPE scrapes counter\nscrapes 1\n');
    assert.match((await get(port, '/metrics?x=1')).body, /scrapes 2/);
    assert.equal((await get(port, '/')).status, 404);
    assert.equal((await get(port, '/metrics', 'POST')).status, 405);
  } finally {
    ep.close();
  }
});
