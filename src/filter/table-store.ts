// pf tables: named address sets that rules refer to as <name>, changed at run
// time (`tunpf ctl table NAME add|delete|replace|flush`, overload). Entries
// live in a Map; lookups go to a PrefixSet rebuilt on the first lookup after
// a change, so a burst of changes costs one rebuild.

import { formatAddress, maskAddress } from '../packet/address.js';
import type { Prefix, TableDef } from '../rules/ast.js';
import { PrefixSet, type PrefixEntry } from './prefix-set.js';

export interface TableEntry {
  prefix: Prefix;
  neg: boolean;
}

function entryKey(p: Prefix): string {
  return `${formatAddress(p.af, p.words)}/${p.bits}`;
}

export class PfTable {
  readonly entries = new Map<string, TableEntry>();
  private set = new PrefixSet();
  private dirty = false;
  /** Lookups that matched / did not match (pfctl -vvsT). */
  matches = 0;
  misses = 0;

  constructor(
    readonly name: string,
    public persist = false,
    public isConst = false,
  ) {}

  /** Adds entries; returns how many were new. */
  add(entries: Iterable<TableEntry>): number {
    let added = 0;
    for (const e of entries) {
      const prefix: Prefix = {
        af: e.prefix.af,
        words: maskAddress(e.prefix.words, e.prefix.bits),
        bits: e.prefix.bits,
      };
      const key = entryKey(prefix);
      const old = this.entries.get(key);
      if (old && old.neg === e.neg) continue;
      this.entries.set(key, { prefix, neg: e.neg });
      added++;
    }
    if (added) this.dirty = true;
    return added;
  }

  /** Deletes entries by prefix (negation ignored); returns how many went. */
  delete(prefixes: Iterable<Prefix>): number {
    let removed = 0;
    for (const p of prefixes) {
      if (this.entries.delete(entryKey({ af: p.af, words: maskAddress(p.words, p.bits), bits: p.bits }))) removed++;
    }
    if (removed) this.dirty = true;
    return removed;
  }

  replace(entries: Iterable<TableEntry>): void {
    this.entries.clear();
    this.dirty = true;
    this.add(entries);
  }

  flush(): number {
    const n = this.entries.size;
    this.entries.clear();
    this.dirty = true;
    return n;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Whether the address is in the table (longest match; negated entries exclude). */
  contains(af: number, words: ArrayLike<number>): boolean {
    if (this.dirty) this.rebuild();
    if (this.set.contains(af, words)) {
      this.matches++;
      return true;
    }
    this.misses++;
    return false;
  }

  private rebuild(): void {
    const list: PrefixEntry[] = [];
    for (const e of this.entries.values())
      list.push({ af: e.prefix.af, words: e.prefix.words, bits: e.prefix.bits, neg: e.neg });
    this.set.build(list);
    this.dirty = false;
  }
}

/** All tables of a running filter. Tables survive a reload when `persist`ed or still defined. */
export class TableStore {
  private readonly tables = new Map<string, PfTable>();

  get(name: string): PfTable | undefined {
    return this.tables.get(name);
  }

  /** The table of that name, created empty if it does not exist. */
  ensure(name: string): PfTable {
    let t = this.tables.get(name);
    if (!t) {
      t = new PfTable(name);
      this.tables.set(name, t);
    }
    return t;
  }

  list(): PfTable[] {
    return [...this.tables.values()];
  }

  delete(name: string): boolean {
    return this.tables.delete(name);
  }

  /**
   * The store for a newly loaded ruleset: defined tables get the file's
   * entries; a persist table that the new ruleset also defines without
   * entries keeps what it collected at run time (e.g. overload victims);
   * tables neither defined nor referenced any more are dropped unless persist.
   */
  static forRuleset(defs: readonly TableDef[], previous?: TableStore): TableStore {
    const store = new TableStore();
    for (const def of defs) {
      const old = previous?.get(def.name);
      const t = new PfTable(def.name, def.persist, def.const);
      if (old && def.persist && def.entries.length === 0) t.add(old.entries.values());
      else t.add(def.entries);
      store.tables.set(def.name, t);
    }
    for (const old of previous?.list() ?? []) {
      if (!store.tables.has(old.name) && old.persist) store.tables.set(old.name, old);
    }
    return store;
  }
}
