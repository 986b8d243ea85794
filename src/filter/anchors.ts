// pf's anchor tree: named rulesets by path, each compiled on its own (own
// numbering from 0, own skip steps, own counters). Anchor rules hold the
// node, not its rules, so loading or flushing an anchor at run time swaps
// what every rule calling it evaluates, without recompiling the caller. The
// tree does not look into the rules (R: compile-rules.ts's CompiledRule).

/** A compiled rule list with its counters: the main ruleset or an anchor's. */
export interface RuleList<R> {
  readonly rules: R[];
  readonly count: number;
  readonly evaluations: Float64Array;
  readonly packets: Float64Array;
  readonly bytes: Float64Array;
  readonly states: Float64Array;
}

export class AnchorNode<R> implements RuleList<R> {
  rules: R[] = [];
  count = 0;
  evaluations = new Float64Array(0);
  packets = new Float64Array(0);
  bytes = new Float64Array(0);
  states = new Float64Array(0);
  /** Children in name order: what `name/*` evaluates (pf's RB tree order). */
  readonly children: AnchorNode<R>[] = [];
  constructor(
    readonly path: string,
    /** The last component of the path: pflog's ruleset name. */
    readonly name: string,
  ) {}

  /** Replaces the anchor's rules (counters start over). */
  load(rules: R[]): void {
    this.rules = rules;
    this.count = rules.length;
    this.evaluations = new Float64Array(rules.length);
    this.packets = new Float64Array(rules.length);
    this.bytes = new Float64Array(rules.length);
    this.states = new Float64Array(rules.length);
  }
}

export class AnchorTree<R> {
  private readonly nodes = new Map<string, AnchorNode<R>>();
  /** The main ruleset's children. */
  readonly root = new AnchorNode<R>('', '');

  get(path: string): AnchorNode<R> | undefined {
    return this.nodes.get(path);
  }

  /** The node at `path` ('' is the root), made with its parents when missing. */
  ensure(path: string): AnchorNode<R> {
    if (path === '') return this.root;
    let node = this.nodes.get(path);
    if (node) return node;
    const cut = path.lastIndexOf('/');
    const parent = this.ensure(cut < 0 ? '' : path.slice(0, cut));
    node = new AnchorNode<R>(path, path.slice(cut + 1));
    this.nodes.set(path, node);
    parent.children.push(node);
    parent.children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return node;
  }

  /** Every anchor, in path order. */
  all(): AnchorNode<R>[] {
    return [...this.nodes.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
}
