// Test helpers for the wire codec's tests (not used by production code).
import assert from 'node:assert/strict';
import type { CodecContext } from './header.ts';
import { type BgpMessage, decode, encode, encodingLength } from './message.ts';
import { BgpDecodeError } from './errors.ts';

/**
 * Bytes from annotated hex: whitespace is ignored and `#` starts a comment up to the end of the line, so golden
 * messages can be written one commented field per line.
 */
export function hex(annotated: string): Buffer {
  const digits = annotated.replace(/#[^\n]*/g, '').replace(/\s+/g, '');
  if (!/^([0-9a-f]{2})*$/i.test(digits)) throw new Error(`bad hex: ${digits}`);
  return Buffer.from(digits, 'hex');
}

/**
 * The codec contract (dns-packet `testEncoder` style): encode → decode gives the value back; re-encoding gives the
 * same bytes; encodingLength equals the bytes written; encoding at offset 10 of a bigger buffer works. When `golden`
 * is given, the encoding must equal it byte for byte.
 */
export function assertContract(m: BgpMessage, ctx: CodecContext, golden?: Buffer): Buffer {
  const bytes = encode(m, ctx);
  assert.equal(bytes.length, encodingLength(m, ctx), 'encodingLength equals the bytes written');
  if (golden) assert.equal(bytes.toString('hex'), golden.toString('hex'), 'golden bytes');
  const back = decode(bytes, ctx);
  assert.equal(back.offset, bytes.length);
  assert.deepEqual(back.value, m, 'decode(encode(m)) equals m');
  assert.equal(
    encode(back.value, ctx).toString('hex'),
    bytes.toString('hex'),
    're-encoding gives the same bytes',
  );
  const big = Buffer.alloc(bytes.length + 20, 0xaa);
  encode(m, ctx, big, 10);
  assert.equal(
    big.subarray(10, 10 + bytes.length).toString('hex'),
    bytes.toString('hex'),
    'encoding at offset 10',
  );
  assert.ok(
    big.subarray(0, 10).every((b) => b === 0xaa) && big.subarray(10 + bytes.length).every((b) => b === 0xaa),
    'nothing written outside',
  );
  const at = decode(big, ctx, 10);
  assert.deepEqual(at.value, m);
  assert.equal(at.offset, 10 + bytes.length);
  return bytes;
}

/** Asserts that decoding `bytes` throws a BgpDecodeError with this code/subcode/handling; returns it. */
export function assertDecodeError(
  bytes: Buffer,
  ctx: CodecContext,
  want: { code: number; subcode: number; handling?: BgpDecodeError['handling']; data?: Buffer },
): BgpDecodeError {
  let caught: unknown;
  try {
    decode(bytes, ctx);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof BgpDecodeError, `expected a BgpDecodeError, got ${String(caught)}`);
  assert.equal(caught.code, want.code, `code (${caught.message})`);
  assert.equal(caught.subcode, want.subcode, `subcode (${caught.message})`);
  assert.equal(caught.handling, want.handling ?? 'session-reset', `handling (${caught.message})`);
  if (want.data) assert.equal(caught.data.toString('hex'), want.data.toString('hex'), 'NOTIFICATION data');
  return caught;
}

/**
 * A raw UPDATE message from annotated hex pieces (attributes, NLRI, withdrawn routes), lengths filled in: for
 * malformed-UPDATE tests (the RFC 7606 table, a hostile peer).
 */
export function rawUpdate(
  attrs: string,
  nlri = '20 c633640a' /* 198.51.100.10/32 */,
  withdrawn = '',
): Buffer {
  const w = hex(withdrawn);
  const a = hex(attrs);
  const n = hex(nlri);
  const body = Buffer.alloc(4 + w.length + a.length + n.length);
  body.writeUInt16BE(w.length, 0);
  w.copy(body, 2);
  body.writeUInt16BE(a.length, 2 + w.length);
  a.copy(body, 4 + w.length);
  n.copy(body, 4 + w.length + a.length);
  const h = hex('ffffffffffffffffffffffffffffffff 0000 02');
  h.writeUInt16BE(19 + body.length, 16);
  return Buffer.concat([h, body]);
}
