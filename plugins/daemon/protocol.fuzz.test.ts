// Fuzzing tsnetd's frame parser (./protocol.ts) and the config-cost scan (./handle.ts) with fast-check:
// whatever bytes arrive, decoding answers or throws a ProtocolError — nothing else, nothing that takes the
// daemon down — and what a client encodes comes out whole however the socket splits it. Bounded in runs and
// time (a few seconds), so it runs with every `npm test`; a failure prints the seed and the shrunk input.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { costlyJson, MAX_JSON_CONTAINERS, MAX_JSON_DEPTH } from './handle.js';
import {
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  FrameReader,
  MAGIC,
  MAX_ENTRIES,
  ProtocolError,
  type DaemonRequest,
} from './protocol.js';

/** Each property: at most this many runs, and at most this long. */
const BOUND = { numRuns: 1000, interruptAfterTimeLimit: 2000 };

/** Runs `f`; a ProtocolError is an answer too; any other error fails the property. */
function decodes<T>(f: () => T): T | ProtocolError {
  try {
    return f();
  } catch (e) {
    if (e instanceof ProtocolError) return e;
    throw e;
  }
}

const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));
/** Bodies that start like a request (so the parser gets past the magic) and go on at random. */
const requestish = fc
  .tuple(
    fc.array(
      fc.string({ maxLength: 20 }).map((s) => s.replace(/\0/g, '')),
      { maxLength: 8 },
    ),
    fc.boolean(),
    bytes(64),
  )
  .map(([entries, terminated, rest]) =>
    Buffer.concat([MAGIC, Buffer.from(entries.map((e) => `${e}\0`).join('') + (terminated ? '\0' : '')), rest]),
  );
const noNul = (max: number) => fc.string({ maxLength: max, unit: 'binary' }).map((s) => s.replace(/\0/g, ''));
const request: fc.Arbitrary<DaemonRequest> = fc.record({
  type: noNul(16).filter((s) => s.length > 0),
  env: fc.dictionary(fc.oneof(fc.constant('TSNET_ROOT'), fc.stringMatching(/^CNI_[A-Z_]{0,12}$/)), noNul(40), { maxKeys: 10 }),
  stdin: bytes(512),
});
/** Splits `buf` at random cut points. */
const chunked = (buf: Buffer, cuts: number[]) => {
  const at = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of [...at, buf.length]) {
    out.push(buf.subarray(prev, c));
    prev = c;
  }
  return out;
};

describe('tsnetd protocol under fuzzing', () => {
  it('any body decodes to a request or a ProtocolError', () => {
    fc.assert(
      fc.property(fc.oneof(bytes(128), requestish), (body) => {
        const r = decodes(() => decodeRequest(body));
        if (r instanceof ProtocolError) return;
        assert.ok(r.type.length > 0);
        for (const k of Object.keys(r.env)) assert.ok(k.startsWith('CNI_') || k === 'TSNET_ROOT', `only forwarded keys survive: ${k}`);
      }),
      BOUND,
    );
  });

  it('any body decodes to a response or a ProtocolError', () => {
    const responseish = fc
      .tuple(fc.constantFrom('R', 'F', 'X'), bytes(40))
      .map(([k, rest]) => Buffer.concat([MAGIC, Buffer.from(k), rest]));
    fc.assert(
      fc.property(fc.oneof(bytes(64), responseish), (body) => {
        const r = decodes(() => decodeResponse(body));
        if (r instanceof ProtocolError || r.kind === 'fallback') return;
        assert.equal(13 + r.stdout.length + r.stderr.length, body.length);
      }),
      BOUND,
    );
  });

  it('a FrameReader fed any bytes in any chunks returns one body, waits, or throws a ProtocolError', () => {
    fc.assert(
      fc.property(bytes(256), fc.array(fc.nat(), { maxLength: 8 }), (stream, cuts) => {
        const reader = new FrameReader();
        for (const chunk of chunked(stream, cuts)) {
          const r = decodes(() => reader.push(chunk));
          if (r instanceof ProtocolError) return;
          if (r) {
            assert.equal(r.length, stream.readUInt32BE(0));
            return;
          }
        }
      }),
      BOUND,
    );
  });

  it('what is encoded comes out whole, however the socket splits it', () => {
    fc.assert(
      fc.property(request, fc.array(fc.nat(), { maxLength: 6 }), (req, cuts) => {
        const frame = encodeRequest(req);
        const reader = new FrameReader();
        let body: Buffer | undefined;
        for (const chunk of chunked(frame, cuts)) body = reader.push(chunk) ?? body;
        const back = decodeRequest(body!);
        assert.deepEqual({ ...back, stdin: [...back.stdin] }, { ...req, env: { ...req.env }, stdin: [...req.stdin] });
      }),
      BOUND,
    );
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), bytes(64), bytes(64), (exitCode, stdout, stderr) => {
        const res = decodeResponse(encodeResponse({ kind: 'result', exitCode, stdout, stderr }).subarray(4));
        assert.deepEqual(res, { kind: 'result', exitCode, stdout, stderr });
      }),
      BOUND,
    );
  });

  it('a header of more than MAX_ENTRIES entries is refused, one of MAX_ENTRIES is not', () => {
    const head = (n: number) => Buffer.concat([MAGIC, Buffer.from('@type=x\0' + 'CNI_A=1\0'.repeat(n - 1) + '\0')]);
    assert.equal(decodeRequest(head(MAX_ENTRIES)).type, 'x');
    assert.throws(() => decodeRequest(head(MAX_ENTRIES + 1)), ProtocolError);
  });
});

describe("the scan for configs too costly to parse (handle.ts costlyJson) agrees with the config's shape", () => {
  /** Depth and number of objects and arrays of a JSON value. */
  const shape = (v: unknown, depth = 0): { depth: number; containers: number } => {
    if (typeof v !== 'object' || v === null) return { depth, containers: 0 };
    const kids = Array.isArray(v) ? v : Object.values(v);
    let d = depth + 1;
    let n = 1;
    for (const k of kids) {
      const s = shape(k, depth + 1);
      d = Math.max(d, s.depth);
      n += s.containers;
    }
    return { depth: d, containers: n };
  };
  /** JSON with strings full of what a naive scan would count: brackets, quotes, backslashes. */
  const tricky = fc.string({ unit: fc.constantFrom('[', ']', '{', '}', '"', '\\', 'a', ' '), maxLength: 8 });
  const value = fc.letrec((tie) => ({
    v: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      tricky,
      fc.integer(),
      fc.constant(null),
      fc.array(tie('v'), { maxLength: 4 }),
      fc.dictionary(tricky, tie('v'), { maxKeys: 4 }),
    ),
  })).v;
  /** A value wrapped `n` levels deep in arrays or objects. */
  const nest = (v: unknown, n: number, obj: boolean): unknown => {
    for (let i = 0; i < n; i++) v = obj ? { '[': v } : [v];
    return v;
  };

  it('flags a config exactly when it nests deeper than MAX_JSON_DEPTH or holds more than MAX_JSON_CONTAINERS', () => {
    fc.assert(
      fc.property(value, fc.integer({ min: 0, max: MAX_JSON_DEPTH + 4 }), fc.boolean(), (v, n, obj) => {
        const doc = nest(v, n, obj);
        const s = shape(doc);
        const costly = costlyJson(Buffer.from(JSON.stringify(doc)));
        assert.equal(
          costly !== undefined,
          s.depth > MAX_JSON_DEPTH || s.containers > MAX_JSON_CONTAINERS,
          `${JSON.stringify(doc)}: ${costly}`,
        );
      }),
      BOUND,
    );
    assert.match(costlyJson(Buffer.from(JSON.stringify(Array.from({ length: MAX_JSON_CONTAINERS + 1 }, () => [])))) ?? '', /more than/);
  });
});
