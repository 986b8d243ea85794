// pf tables: named address sets that rules refer to as <name>, changed at run
// time (`tunpf ctl table NAME add|delete|replace|flush`, overload). Entries
// live in a Map; lookups go to a PrefixSet rebuilt on the first lookup after
// a change, so a burst of changes costs one rebuild.

import { formatAddress, maskAddress } from '../packet/address.js';
import { DEFAULT_LIMITS, type Prefix, type Ruleset, type TableDef } from '../rules/ast.js';
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
  /** The store whose `set limit table-entries` bounds this table; none for a table on its own. */
  store: TableStore | null = null;

  constructor(
    readonly name: string,
    public persist = false,
    public isConst = false,
  ) {}

  /**
   * Adds entries; returns how many were new or changed, or -1 when the new
   * ones would take the store over `set limit table-entries` (then none is added).
   */
  add(entries: Iterable<TableEntry>): number {
    const changes = new Map<string, TableEntry>();
    let fresh = 0;
    for (const e of entries) {
      const prefix: Prefix = {
        af: e.prefix.af,
        words: maskAddress(e.prefix.words, e.prefix.bits),
        bits: e.prefix.bits,
      };
      const key = entryKey(prefix);
      const old = this.entries.get(key);
      if (old && old.neg === e.neg) continue;
      if (!old && !changes.has(key)) fresh++;
      changes.set(key, { prefix, neg: e.neg });
    }
    if (fresh > 0 && this.store && this.store.entryCount() + fresh > this.store.limits.tableEntries) return -1;
    for (const [key, e] of changes) this.entries.set(key, e);
    if (changes.size) this.dirty = true;
    return changes.size;
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

  /** Sets the entries; false, and nothing changed, when they would take the store over its entry limit. */
  replace(entries: Iterable<TableEntry>): boolean {
    const old = new Map(this.entries);
    this.entries.clear();
    if (this.add(entries) < 0) {
      for (const [key, e] of old) this.entries.set(key, e);
      return false;
    }
    this.dirty = true;
    return true;
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
  /** `set limit tables` and `set limit table-entries` of the ruleset in force. */
  limits: Pick<Ruleset['options']['limits'], 'tables' | 'tableEntries'> = {
    tables: DEFAULT_LIMITS.tables,
    tableEntries: DEFAULT_LIMITS.tableEntries,
  };

  get(name: string): PfTable | undefined {
    return this.tables.get(name);
  }

  /** The table of that name, created empty if it does not exist (even beyond `set limit tables`: see `full`). */
  ensure(name: string): PfTable {
    let t = this.tables.get(name);
    if (!t) {
      t = new PfTable(name);
      t.store = this;
      this.tables.set(name, t);
    }
    return t;
  }

  /** Whether a new table would go over `set limit tables`. */
  full(): boolean {
    return this.tables.size >= this.limits.tables;
  }

  /** Entries in all tables (what `set limit table-entries` bounds). */
  entryCount(): number {
    let n = 0;
    for (const t of this.tables.values()) n += t.size;
    return n;
  }

  /** Makes this store's limits bound every table in it (persist tables it took over from the previous store). */
  claim(): void {
    for (const t of this.tables.values()) t.store = this;
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
   * Throws TableLimitError when the tables would go over `limits`; the
   * previous store is untouched until the caller `claim()`s the new one.
   */
  static forRuleset(
    defs: readonly TableDef[],
    previous?: TableStore,
    limits: Ruleset['options']['limits'] = DEFAULT_LIMITS,
  ): TableStore {
    const store = new TableStore();
    store.limits = { tables: limits.tables, tableEntries: limits.tableEntries };
    for (const def of defs) {
      const old = previous?.get(def.name);
      const t = new PfTable(def.name, def.persist, def.const);
      if (old && def.persist && def.entries.length === 0) t.add(old.entries.values());
      else t.add(def.entries);
      t.store = store;
      store.tables.set(def.name, t);
    }
    for (const old of previous?.list() ?? []) {
      if (!store.tables.has(old.name) && old.persist) store.tables.set(old.name, old);
    }
    // the file's tables were counted when it was checked; persist ones kept from before count too
    if (store.tables.size > limits.tables)
      throw new TableLimitError(
        `${store.tables.size} tables, persist ones kept included: over set limit tables ${limits.tables}`,
      );
    const entries = store.entryCount();
    if (entries > limits.tableEntries)
      throw new TableLimitError(
        `${entries} table entries, persist tables kept included: over set limit table-entries ${limits.tableEntries}`,
      );
    return store;
  }
}

/** A ruleset's tables would go over `set limit tables` or `set limit table-entries`. */
export class TableLimitError extends Error {}
