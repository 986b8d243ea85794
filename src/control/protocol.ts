// The control socket's wire format: one JSON object a line (UTF-8, '\n'
// ends a message). Requests {id, command, args}; responses {id, ok: true,
// result} or {id, ok: false, error: {code, message, details?}}. Pure
// functions over bytes, no sockets; LineFramer cuts a byte stream into
// lines and refuses lines over the size limit without buffering them.

/** The largest request a server accepts, in bytes, the newline excluded. */
export const MAX_REQUEST_BYTES = 64 * 1024;
/** Responses (a large state table) may be much larger; the client's bound. */
export const MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

export type RequestId = string | number;

export interface Request {
  id: RequestId;
  command: string;
  args: Record<string, unknown>;
}

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  /** Lines that explain the error, e.g. a bad ruleset's diagnostics in `tunpf check` form. */
  details?: string[];
}

export type Response =
  { id: RequestId | null; ok: true; result: unknown } | { id: RequestId | null; ok: false; error: ErrorBody };

/** Error codes, stable for scripts. */
export const ErrorCode = {
  MALFORMED: 'malformed', // not a JSON object of the request's shape
  TOO_LARGE: 'too-large', // over MAX_REQUEST_BYTES
  UNKNOWN_COMMAND: 'unknown-command', // no handler registered (e.g. CARP not configured)
  BAD_ARGS: 'bad-args',
  NOT_FOUND: 'not-found',
  REFUSED: 'refused', // understood but not done (a const table, a bad ruleset)
  INTERNAL: 'internal', // the handler failed unexpectedly
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
const ERROR_CODES = new Set<string>(Object.values(ErrorCode));

const NEWLINE = 0x0a;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Bytes of a message on the wire, newline included. */
export function encodingLength(msg: Request | Response): number {
  return Buffer.byteLength(JSON.stringify(msg)) + 1;
}

/** Writes one message and its newline into buf at offset (a new buffer when none is given). */
export function encode(msg: Request | Response, buf?: Uint8Array, offset = 0): Uint8Array {
  const text = JSON.stringify(msg);
  // JSON.stringify escapes control characters, so the only newline is the terminator.
  const len = Buffer.byteLength(text) + 1;
  const out = buf ?? new Uint8Array(len);
  if (out.length - offset < len)
    throw new RangeError(`encode needs ${len} bytes at offset ${offset}, the buffer has ${out.length - offset}`);
  const { written } = encoder.encodeInto(text, out.subarray(offset));
  out[offset + written] = NEWLINE;
  return out;
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; id: RequestId | null; error: ErrorBody };

function fail<T>(message: string, id: RequestId | null = null, code: ErrorCode = ErrorCode.MALFORMED): Decoded<T> {
  return { ok: false, id, error: { code, message } };
}

function parseObject(buf: Uint8Array, offset: number, length: number): Record<string, unknown> | string {
  let text: string;
  try {
    text = decoder.decode(buf.subarray(offset, offset + length));
  } catch {
    return 'the request is not valid UTF-8';
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return `the request is not valid JSON (${(e as Error).message})`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return 'the request must be a JSON object {id, command, args}';
  return value as Record<string, unknown>;
}

function isId(v: unknown): v is RequestId {
  return (typeof v === 'string' && v.length <= 128) || (typeof v === 'number' && Number.isFinite(v));
}

/** Decodes one request line (without its newline). */
export function decodeRequest(buf: Uint8Array, offset = 0, length = buf.length - offset): Decoded<Request> {
  if (length > MAX_REQUEST_BYTES)
    return fail(`the request is ${length} bytes; the limit is ${MAX_REQUEST_BYTES}`, null, ErrorCode.TOO_LARGE);
  const o = parseObject(buf, offset, length);
  if (typeof o === 'string') return fail(o);
  const id = isId(o.id) ? o.id : null;
  if (id === null) return fail('the request needs an "id" (a string or a number)');
  if (typeof o.command !== 'string' || o.command.length === 0)
    return fail('the request needs a "command" (a string)', id);
  const args = o.args ?? {};
  if (typeof args !== 'object' || args === null || Array.isArray(args)) return fail('"args" must be an object', id);
  return { ok: true, value: { id, command: o.command, args: args as Record<string, unknown> } };
}

/** Decodes one response line (without its newline). */
export function decodeResponse(buf: Uint8Array, offset = 0, length = buf.length - offset): Decoded<Response> {
  const o = parseObject(buf, offset, length);
  if (typeof o === 'string') return fail(o.replace('request', 'response'));
  const id = o.id === null ? null : isId(o.id) ? o.id : undefined;
  if (id === undefined) return fail('the response has no valid "id"');
  if (o.ok === true) return { ok: true, value: { id, ok: true, result: o.result ?? null } };
  if (o.ok !== false) return fail('the response has no boolean "ok"', id);
  const e = o.error as Record<string, unknown> | null | undefined;
  if (typeof e !== 'object' || e === null || typeof e.message !== 'string' || typeof e.code !== 'string')
    return fail('the error response has no {code, message}', id);
  const error: ErrorBody = {
    code: (ERROR_CODES.has(e.code) ? e.code : ErrorCode.INTERNAL) as ErrorCode,
    message: e.message,
  };
  if (Array.isArray(e.details)) error.details = e.details.map(String);
  return { ok: true, value: { id, ok: false, error } };
}

export type Frame = { line: Uint8Array } | { oversized: number };

/**
 * Cuts a byte stream into lines. A line longer than `max` is reported once
 * as { oversized: bytes seen } and its bytes are dropped up to its newline,
 * so a flood costs no memory; the stream goes on with the next line.
 */
export class LineFramer {
  private parts: Uint8Array[] = [];
  private size = 0;
  private discarding = false;

  constructor(private readonly max: number = MAX_REQUEST_BYTES) {}

  /** Bytes held of an unfinished line (a client that leaves one behind just goes). */
  get pending(): number {
    return this.size;
  }

  push(chunk: Uint8Array): Frame[] {
    const out: Frame[] = [];
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(NEWLINE, start);
      const end = nl < 0 ? chunk.length : nl;
      if (this.discarding) {
        this.size += end - start;
      } else if (this.size + (end - start) > this.max) {
        this.discarding = true;
        this.parts = [];
        this.size += end - start;
        out.push({ oversized: this.size });
      } else if (end > start) {
        this.parts.push(chunk.subarray(start, end));
        this.size += end - start;
      }
      if (nl < 0) break;
      if (!this.discarding) out.push({ line: this.take() });
      this.parts = [];
      this.size = 0;
      this.discarding = false;
      start = nl + 1;
    }
    // keep what is held independent of the caller's chunk buffer
    if (this.parts.length > 0 && this.parts[this.parts.length - 1]!.buffer === chunk.buffer) {
      this.parts[this.parts.length - 1] = this.parts[this.parts.length - 1]!.slice();
    }
    return out;
  }

  private take(): Uint8Array {
    if (this.parts.length === 1) return this.parts[0]!;
    return Buffer.concat(this.parts, this.size);
  }
}
