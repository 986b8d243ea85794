// The HA file: the redundancy settings of one router, beside its ruleset.
// `carp NAME { ... }` blocks (src/carp/carp-config.ts) and at most one
// `pfsync { ... }` block (src/pfsync/pfsync-config.ts), in pf.conf's lexical
// syntax. Every error is reported with FILE:LINE:COL, not just the first.

import { readFileSync } from 'node:fs';
import { parseCarpBlock, type CarpGroupConfig } from '../carp/carp-config.js';
import { parsePfsyncBlock, type PfsyncConfig } from '../pfsync/pfsync-config.js';
import type { Diagnostic } from '../rules/ast.js';
import { BlockReader, ConfigError } from '../rules/block-reader.js';
import { tokenize, type TokenizeError } from '../rules/tokenizer.js';

export interface HaConfig {
  carp: CarpGroupConfig[];
  pfsync: PfsyncConfig | null;
}

export interface HaConfigResult {
  config: HaConfig | null;
  diagnostics: Diagnostic[];
  source: string;
}

export function parseHaConfig(text: string, file: string): HaConfigResult {
  const errors: TokenizeError[] = [];
  const r = new BlockReader(tokenize(text, file, errors));
  const diagnostics: Diagnostic[] = errors.map((e) => ({ severity: 'error', loc: e.loc, message: e.message }));
  const config: HaConfig = { carp: [], pfsync: null };
  for (;;) {
    r.skipNewlines();
    if (r.atEof()) break;
    const start = r.pos;
    try {
      const kw = r.word("'carp' or 'pfsync'");
      if (kw.text === 'carp') {
        const g = parseCarpBlock(r);
        const same = config.carp.find((x) => x.carpdev === g.carpdev && x.vhid === g.vhid);
        if (same)
          throw new ConfigError(
            g.loc,
            `carp ${g.name}: vhid ${g.vhid} on ${g.carpdev} is already used by carp ${same.name}`,
          );
        const named = config.carp.find((x) => x.name === g.name);
        if (named) throw new ConfigError(g.loc, `carp ${g.name} is defined twice`);
        config.carp.push(g);
      } else if (kw.text === 'pfsync') {
        if (config.pfsync) throw new ConfigError(kw.loc, 'only one pfsync block');
        config.pfsync = parsePfsyncBlock(r, kw.loc);
      } else throw new ConfigError(kw.loc, `expected 'carp' or 'pfsync', found '${kw.text}'`);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      diagnostics.push({ severity: 'error', loc: e.loc, message: e.message });
      r.recover(start);
    }
  }
  if (config.pfsync && config.carp.some((g) => g.carpdev === config.pfsync!.syncdev))
    diagnostics.push({
      severity: 'warning',
      loc: config.pfsync.loc,
      message:
        `pfsync: syncdev ${config.pfsync.syncdev} also carries CARP; ` +
        'pfsync has no authentication, so a dedicated link is safer',
    });
  const failed = diagnostics.some((d) => d.severity === 'error');
  return { config: failed ? null : config, diagnostics, source: text };
}

export class HaConfigReadError extends Error {}

export function loadHaConfigFile(path: string): HaConfigResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new HaConfigReadError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseHaConfig(text, path);
}
