// pf's anchor tree: named rulesets by path, each compiled on its own (own
// numbering from 0, own skip steps, own counters). Anchor rules hold the
// node, not its rules, so loading or flushing an anchor at run time swaps
// what every rule calling it evaluates, without recompiling the caller.

import type { CompiledRule } from './compile-rules.js';

/** A compiled rule list with its counters: the main ruleset or an anchor's. */
export interface RuleList {
  readonly rules: CompiledRule[];
  readonly count: number;
  readonly evaluations: Float64Array;
  readonly packets: Float64Array;
  readonly bytes: Float64Array;
  readonly states: Float64Array;
}

export class AnchorNode implements RuleList {
  rules: CompiledRule[] = [];
  count = 0;
  evaluations = new Float64Array(0);
  packets = new Float64Array(0);
  bytes = new Float64Array(0);
  states = new Float64Array(0);
  /** Children in name order: what `name/*` evaluates (pf's RB tree order). */
  readonly children: AnchorNode[] = [];
  constructor(
    readonly path: string,
    /** The last component of the path: pflog's ruleset name. */
    readonly name: string,
  ) {}

  /** Replaces the anchor's rules (counters start over). */
  load(rules: CompiledRule[]): void {
    this.rules = rules;
    this.count = rules.length;
    this.evaluations = new Float64Array(rules.length);
    this.packets = new Float64Array(rules.length);
    this.bytes = new Float64Array(rules.length);
    this.states = new Float64Array(rules.length);
  }
}

export class AnchorTree {
  private readonly nodes = new Map<string, AnchorNode>();
  /** The main ruleset's children. */
  readonly root = new AnchorNode('', '');

  get(path: string): AnchorNode | undefined {
    return this.nodes.get(path);
  }

  /** The node at `path` ('' is the root), made with its parents when missing. */
  ensure(path: string): AnchorNode {
    if (path === '') return this.root;
    let node = this.nodes.get(path);
    if (node) return node;
    const cut = path.lastIndexOf('/');
    const parent = this.ensure(cut < 0 ? '' : path.slice(0, cut));
    node = new AnchorNode(path, path.slice(cut + 1));
    this.nodes.set(path, node);
    parent.children.push(node);
    parent.children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return node;
  }

  /** Every anchor, in path order. */
  all(): AnchorNode[] {
    return [...this.nodes.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
}
