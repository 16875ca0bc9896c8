/**
 * Metric families that cost a few Map lookups and a number increment per observation: each
 * label combination gets its cell once, and prom-client's Registry reads the cells only when
 * it is scraped (through the `get()` every registered metric has). prom-client's own Counter
 * hashes its labels into a new string at every inc(), which the per-request path avoids.
 */

type LabelValue = string | number;

interface Node<C> {
  cell?: C;
  children?: Map<LabelValue, Node<C>>;
}

/** A prom-client metric as the Registry reads it. */
export interface ScrapedMetric {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  aggregator: 'sum';
  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: ScrapedValue[] }>;
}

interface ScrapedValue {
  value: number;
  labels: Record<string, LabelValue>;
  metricName?: string;
}

/** The cells of a family, by up to three label values, made on first use. */
class Cells<C> {
  readonly #root: Node<C> = {};
  readonly all: C[] = [];

  constructor(
    private readonly labelNames: readonly string[],
    private readonly make: (labels: Record<string, LabelValue>) => C,
  ) {}

  at(a?: LabelValue, b?: LabelValue, c?: LabelValue): C {
    let node = this.#root;
    const n = this.labelNames.length;
    if (n > 0) node = step(node, a!);
    if (n > 1) node = step(node, b!);
    if (n > 2) node = step(node, c!);
    if (node.cell === undefined) {
      const values = [a, b, c];
      const labels: Record<string, LabelValue> = {};
      for (const [i, name] of this.labelNames.entries()) labels[name] = values[i]!;
      node.cell = this.make(labels);
      this.all.push(node.cell);
    }
    return node.cell;
  }
}

function step<C>(node: Node<C>, value: LabelValue): Node<C> {
  node.children ??= new Map();
  let next = node.children.get(value);
  if (!next) {
    next = {};
    node.children.set(value, next);
  }
  return next;
}

export interface CounterCell {
  readonly labels: Record<string, LabelValue>;
  value: number;
}

export class CounterFamily implements ScrapedMetric {
  readonly type = 'counter';
  readonly aggregator = 'sum';
  readonly cells: Cells<CounterCell>;

  constructor(
    readonly name: string,
    readonly help: string,
    labelNames: readonly string[],
  ) {
    this.cells = new Cells(labelNames, (labels) => ({ labels, value: 0 }));
  }

  inc(a?: LabelValue, b?: LabelValue, c?: LabelValue): void {
    this.cells.at(a, b, c).value++;
  }

  async get() {
    const values = this.cells.all.map((cell) => ({ value: cell.value, labels: cell.labels }));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

export interface HistogramCell {
  readonly labels: Record<string, LabelValue>;
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

export class HistogramFamily implements ScrapedMetric {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly cells: Cells<HistogramCell>;

  constructor(
    readonly name: string,
    readonly help: string,
    labelNames: readonly string[],
    readonly buckets: readonly number[],
  ) {
    this.cells = new Cells(labelNames, (labels) => ({
      labels,
      counts: new Float64Array(buckets.length),
      sum: 0,
      count: 0,
    }));
  }

  observe(cell: HistogramCell, value: number): void {
    const buckets = this.buckets;
    for (let i = 0; i < buckets.length; i++) {
      if (value <= buckets[i]!) {
        cell.counts[i]!++;
        break;
      }
    }
    cell.sum += value;
    cell.count++;
  }

  async get() {
    const values: ScrapedValue[] = [];
    for (const cell of this.cells.all) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += cell.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { ...cell.labels, le }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { ...cell.labels, le: '+Inf' }, value: cell.count });
      values.push({ metricName: `${this.name}_sum`, labels: cell.labels, value: cell.sum });
      values.push({ metricName: `${this.name}_count`, labels: cell.labels, value: cell.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

/** A counter or gauge whose values are read from elsewhere at scrape time. */
export class ReadMetric implements ScrapedMetric {
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge',
    private readonly read: () => ScrapedValue[],
  ) {}

  async get() {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.read() };
  }
}
