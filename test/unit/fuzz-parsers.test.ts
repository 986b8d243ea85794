// Fuzzing every parser of outside input with fast-check, bounded in time so the unit suite stays fast
// (FUZZ_SECONDS=N runs each property longer; a failure prints its seed and path, FUZZ_SEED=N replays it).
// The rule and HA parsers report every problem as a located diagnostic, never an exception; the codecs
// report malformed input by their error code, or throw only the error their contract names.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseRuleset } from '../../src/rules/rule-parser.js';
import { formatRuleset } from '../../src/rules/canonical.js';
import type { Diagnostic } from '../../src/rules/ast.js';
import { parseHaConfig } from '../../src/daemon/ha-config.js';
import { compileRuleset } from '../../src/filter/compile-rules.js';
import { InterfaceRegistry } from '../../src/filter/interface-registry.js';
import { TableStore } from '../../src/filter/table-store.js';
import { parsePacket } from '../../src/packet/parse.js';
import { PacketMeta } from '../../src/packet/meta.js';
import { decode as decodeTcp } from '../../src/packet/tcp.js';
import { decode as decodeIcmp } from '../../src/packet/icmp.js';
import { decode as decodeCarp } from '../../src/carp/advertisement.js';
import { decodePacket as decodePfsync } from '../../src/pfsync/codec.js';
import { readCapture } from '../../src/packet/capture-file.js';
import { CaptureFormatError } from '../../src/packet/pcap.js';
import { fixturesDir, repoRoot } from './helpers/paths.js';
import { iface } from './helpers/filter-harness.js';

const seconds = Number(process.env.FUZZ_SECONDS ?? 2);
const params = (): fc.Parameters<unknown> => ({
  interruptAfterTimeLimit: seconds * 1000,
  markInterruptAsFailure: false,
  numRuns: 1_000_000,
  ...(process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED) } : {}),
});

const INTERFACES = [
  iface('em0', ['10.0.0.254/24', '2001:db8:a::1/64']),
  iface('em1', ['203.0.113.2/28'], ['egress']),
  iface('lo0', ['127.0.0.1/8']),
];

function files(dir: string, ext: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) files(p, ext, out);
    else if (p.endsWith(ext)) out.push(readFileSync(p, 'utf8'));
  }
  return out;
}

const rulesets = [...files(join(fixturesDir, 'rules'), '.conf'), ...files(join(repoRoot, 'rules'), '.conf')];
const haFiles = files(join(repoRoot, 'rules'), '.ha');
const words = (texts: string[]) => [...new Set(texts.join('\n').split(/\s+/))].filter(Boolean);
const edgy = ['$x', '$y', 'x = ', 'y = "$x"', '{', '}', '(', ')', '<', '>', '!', '=', '/', ',', '\n', '"', "'"];
const numbers = ['0', '-1', '65536', '4294967296', '99999999999999999999', '0x', '1e9', ':', '::', '1.2.3.4/33'];
const soup = (texts: string[]) =>
  fc.array(fc.oneof(fc.constantFrom(...words(texts)), fc.constantFrom(...edgy, ...numbers), fc.string()), {
    maxLength: 40,
  });
/** A file with a few spans replaced by a token or random text. */
const mutated = (texts: string[]) =>
  fc
    .tuple(
      fc.constantFrom(...texts),
      fc.array(fc.tuple(fc.nat(), fc.nat(8), fc.oneof(fc.constantFrom(...edgy, ...numbers), fc.string())), {
        maxLength: 6,
      }),
    )
    .map(([text, edits]) =>
      edits.reduce(
        (t, [at, cut, put]) => t.slice(0, at % (t.length + 1)) + put + t.slice((at % (t.length + 1)) + cut),
        text,
      ),
    );

function located(ds: readonly Diagnostic[], file: string): void {
  for (const d of ds) {
    assert.equal(d.loc.file, file);
    assert.ok(Number.isInteger(d.loc.line) && d.loc.line >= 1 && Number.isInteger(d.loc.col) && d.loc.col >= 1);
    assert.ok(d.message.length > 0 && !/internal/i.test(d.message), d.message);
  }
}

/** Parses; what is accepted also prints and compiles as `run` would take it. */
function ruleProperty(text: string): void {
  const r = parseRuleset(text, {
    file: 'fuzz.conf',
    interfaces: INTERFACES,
    readFile: () => '192.0.2.1\n',
    readAnchorFile: () => 'pass all\n',
  });
  located(
    r.diagnostics.filter((d) => d.loc.file === 'fuzz.conf'),
    'fuzz.conf',
  );
  assert.equal(r.ruleset === null, r.diagnostics.some((d) => d.severity === 'error') || r.omitted > 0);
  if (!r.ruleset) return;
  formatRuleset(r.ruleset, {});
  compileRuleset(r.ruleset, {
    interfaces: new InterfaceRegistry(INTERFACES),
    tables: TableStore.forRuleset(r.ruleset.tables),
  });
}

test('fuzz: rule parser over token soup', () => {
  fc.assert(
    fc.property(soup(rulesets), (tokens) => ruleProperty(tokens.join(' '))),
    params(),
  );
});

test('fuzz: rule parser over mutated corpus files', () => {
  fc.assert(fc.property(mutated(rulesets), ruleProperty), params());
});

test('fuzz: HA file parser over token soup and mutated shipped files', () => {
  const property = (text: string) => {
    const r = parseHaConfig(text, 'fuzz.ha');
    located(r.diagnostics, 'fuzz.ha');
    assert.equal(
      r.config === null,
      r.diagnostics.some((d) => d.severity === 'error'),
    );
  };
  fc.assert(
    fc.property(soup(haFiles), (tokens) => property(tokens.join(' '))),
    params(),
  );
  fc.assert(fc.property(mutated(haFiles), property), params());
});

const bytes = fc.uint8Array({ maxLength: 1600 });
/** Only `errorType` may come out of a decoder: anything else is a bug that would reach a caller unexpected. */
function onlyThrows(errorType: new (...a: never[]) => Error, decode: () => unknown): void {
  try {
    decode();
  } catch (e) {
    if (!(e instanceof errorType)) throw e;
  }
}

test('fuzz: packet parser returns an error code, never throws', () => {
  const meta = new PacketMeta();
  // mostly IPv4/IPv6 headers, so the parser gets past the version check into the protocols
  const packet = fc.tuple(
    fc.constantFrom(0x45, 0x46, 0x4f, 0x60, 0x00),
    fc.constantFrom(1, 6, 17, 58, 0, 41, 44),
    bytes,
  );
  fc.assert(
    fc.property(packet, ([first, proto, body]) => {
      const buf = new Uint8Array(body.length + 40);
      buf.set(body, 40);
      buf[0] = first;
      buf[9] = proto;
      buf[6] = proto;
      const cut = body.length % 41;
      const code = parsePacket(buf, 0, buf.length - cut, meta);
      assert.ok(Number.isInteger(code) && code >= 0);
    }),
    params(),
  );
});

test('fuzz: TCP options and ICMP decoders throw only RangeError', () => {
  fc.assert(
    fc.property(bytes, fc.nat(64), (buf, off) => {
      onlyThrows(RangeError, () => decodeTcp(buf, Math.min(off, buf.length)));
      onlyThrows(RangeError, () => decodeIcmp(buf, Math.min(off, buf.length)));
    }),
    params(),
  );
});

test('fuzz: CARP and pfsync decoders', () => {
  fc.assert(
    fc.property(bytes, (buf) => {
      onlyThrows(RangeError, () => decodeCarp(buf));
      const p = decodePfsync(buf);
      assert.ok(Number.isInteger(p.drop));
    }),
    params(),
  );
});

test('fuzz: pcap and pflog capture reader throws only CaptureFormatError', () => {
  const header = fc.constantFrom(
    [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 117, 0, 0, 0],
    [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 101, 0, 0, 0],
    [0x0a, 0x0d, 0x0d, 0x0a],
    [],
  );
  fc.assert(
    fc.property(header, bytes, (h, body) => {
      const buf = new Uint8Array(h.length + body.length);
      buf.set(h);
      buf.set(body, h.length);
      onlyThrows(CaptureFormatError, () => readCapture(buf));
    }),
    params(),
  );
});
