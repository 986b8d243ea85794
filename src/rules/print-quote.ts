// Strings in printed rulesets, written so that tunpf's tokenizer (and
// pfctl's lexer, which it follows) reads back the same value: inside double
// quotes a backslash makes the next quote, space or tab literal and stays
// itself before anything else.

/** `"value"`, escaped so that it reads back as `value`. */
export function quoted(value: string): string {
  let s = '"';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    const after = value[i + 1];
    if (ch === '"') s += '\\"';
    // a backslash before a space or a tab would escape it: double it
    else if (ch === '\\' && (after === ' ' || after === '\t')) s += '\\\\';
    else s += ch;
  }
  return s + '"';
}

/** Whether `value` reads back as one bare word: nothing that ends a word, and no `$` that would make it a macro. */
function readsBare(value: string): boolean {
  return value !== '' && !/[(){}<>!=/#,"'\s]/.test(value) && !value.startsWith('$');
}

/** A name as pfctl prints it (bare), quoted when a bare word would not read back as the same name. */
export function nameText(value: string): string {
  return readsBare(value) ? value : quoted(value);
}

/**
 * A string pfctl always prints quoted (a label): quoted, except that no quoted form keeps a final
 * backslash (it escapes the closing quote), so such a value, which can only have been read bare, is printed bare.
 */
export function quotedText(value: string): string {
  return value.endsWith('\\') && readsBare(value) ? value : quoted(value);
}
