// Reading a ruleset from disk: the file itself and any `table ... file "x"`
// it names (relative paths are taken from the ruleset's folder), and the
// host's /etc/services for port names.

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Diagnostic, Ruleset } from './ast.js';
import { parseRuleset, type ParseOptions } from './rule-parser.js';
import { readHostIds } from './host-ids.js';
import { readHostServices } from './services.js';

export interface LoadResult {
  ruleset: Ruleset | null;
  diagnostics: Diagnostic[];
  /** The text of every file read, by the name diagnostics use, for caret lines. */
  sources: Map<string, string>;
  /** Errors beyond those listed in `diagnostics`. */
  omitted?: number;
}

export class RulesetReadError extends Error {
  constructor(
    readonly path: string,
    readonly code: string,
  ) {
    super(`cannot read ${path}: ${code}`);
  }
}

export function loadRulesetFile(
  path: string,
  opts: Omit<ParseOptions, 'file' | 'readFile' | 'readAnchorFile'> = {},
): LoadResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new RulesetReadError(path, (e as NodeJS.ErrnoException).code ?? String(e));
  }
  const sources = new Map([[path, text]]);
  const base = dirname(path);
  const readFile = (p: string) => {
    const body = readFileSync(resolve(base, p), 'utf8');
    sources.set(p, body);
    return body;
  };
  // `load anchor` and `include` files are taken from the current directory, as pfctl opens them
  const readAnchorFile = (p: string) => {
    const body = readFileSync(resolve(p), 'utf8');
    sources.set(p, body);
    return body;
  };
  const { ruleset, diagnostics, omitted } = parseRuleset(text, {
    ...opts,
    services: opts.services ?? readHostServices(),
    ...(opts.users && opts.groups ? {} : readHostIds()),
    file: path,
    readFile,
    readAnchorFile,
    readInclude: readAnchorFile,
  });
  return { ruleset, diagnostics, sources, omitted };
}
