// Prometheus' text exposition format (version 0.0.4), rendered from a
// snapshot: a pure function, so the format is tested without a socket.
// Subsystems add providers to a registry (the filter here; CARP and pfsync
// beside their code); each scrape asks every provider for its families.

export type MetricType = 'counter' | 'gauge' | 'untyped';

export interface MetricSample {
  labels?: Readonly<Record<string, string | number>>;
  value: number;
}

export interface MetricFamily {
  /** Counters end in _total, by Prometheus' convention. */
  name: string;
  help: string;
  type: MetricType;
  samples: MetricSample[];
}

export type MetricsProvider = () => MetricFamily[];

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** HELP text: backslash and line feed escaped. */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Label values: backslash, double quote and line feed escaped. */
export function escapeLabelValue(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function labelText(labels: MetricSample['labels'], family: string): string {
  if (!labels) return '';
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  const parts = keys.map((k) => {
    if (!LABEL_NAME.test(k) || k.startsWith('__')) throw new Error(`metric ${family}: invalid label name '${k}'`);
    return `${k}="${escapeLabelValue(String(labels[k]))}"`;
  });
  return `{${parts.join(',')}}`;
}

/**
 * Renders families in order; families of the same name (from two
 * providers) are merged under one HELP/TYPE, as the format requires.
 * Throws on invalid names, conflicting types or duplicate samples: those
 * are bugs, better caught by a test than by a scraper.
 */
export function renderMetrics(families: readonly MetricFamily[]): string {
  const merged = new Map<string, MetricFamily>();
  for (const f of families) {
    if (!METRIC_NAME.test(f.name)) throw new Error(`invalid metric name '${f.name}'`);
    const m = merged.get(f.name);
    if (!m) merged.set(f.name, { ...f, samples: [...f.samples] });
    else if (m.type !== f.type) throw new Error(`metric ${f.name} is both ${m.type} and ${f.type}`);
    else m.samples.push(...f.samples);
  }
  let out = '';
  for (const f of merged.values()) {
    out += `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
    const seen = new Set<string>();
    for (const s of f.samples) {
      const labels = labelText(s.labels, f.name);
      if (seen.has(labels)) throw new Error(`metric ${f.name}: duplicate sample ${labels || '(no labels)'}`);
      seen.add(labels);
      out += `${f.name}${labels} ${formatValue(s.value)}\n`;
    }
  }
  return out;
}

export class MetricsRegistry {
  private readonly providers = new Map<string, MetricsProvider>();
  /** Providers that threw during collection, by name (their families are left out of that scrape). */
  readonly failures = new Map<string, number>();

  /** Adds a provider under a unique name (the subsystem's). */
  register(name: string, provider: MetricsProvider): void {
    if (this.providers.has(name)) throw new Error(`metrics provider '${name}' is registered twice`);
    this.providers.set(name, provider);
  }

  collect(): MetricFamily[] {
    const out: MetricFamily[] = [];
    for (const [name, p] of this.providers) {
      try {
        out.push(...p());
      } catch {
        this.failures.set(name, (this.failures.get(name) ?? 0) + 1);
      }
    }
    if (this.failures.size)
      out.push({
        name: 'tunpf_metrics_provider_failures_total',
        help: 'Scrapes in which a metrics provider failed.',
        type: 'counter',
        samples: [...this.failures].map(([provider, value]) => ({ labels: { provider }, value })),
      });
    return out;
  }

  render(): string {
    return renderMetrics(this.collect());
  }
}

/** Shorthand for a family of one unlabelled sample. */
export function single(name: string, help: string, type: MetricType, value: number): MetricFamily {
  return { name, help, type, samples: [{ value }] };
}

/** A family with one sample per entry of a record, the key as one label. */
export function byLabel(
  name: string,
  help: string,
  type: MetricType,
  label: string,
  values: Readonly<Record<string, number>>,
): MetricFamily {
  return { name, help, type, samples: Object.entries(values).map(([k, value]) => ({ labels: { [label]: k }, value })) };
}
