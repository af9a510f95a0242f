// MULTI_EXIT_DISC (type 4, optional non-transitive; RFC 4271 §4.3 d, §5.1.4) and LOCAL_PREF (type 5, well-known,
// iBGP only; RFC 4271 §4.3 e, §5.1.5): one unsigned 32-bit integer each.
//   RFC 7606 §7.4: MED length other than 4 → treat-as-withdraw.
//   RFC 7606 §7.5: LOCAL_PREF from an external peer → attribute-discard (attributes/index.ts); from an internal
//   peer, length other than 4 → treat-as-withdraw.
import { AttributeType, UpdateSubcode } from '../constants.ts';
import { updateError } from '../errors.ts';

export interface MultiExitDiscAttribute {
  type: 'MULTI_EXIT_DISC';
  med: number;
}

export interface LocalPrefAttribute {
  type: 'LOCAL_PREF';
  localPref: number;
}

export function uint32ValueLength(): number {
  return 4;
}

export function encodeUint32Value(
  a: MultiExitDiscAttribute | LocalPrefAttribute,
  buf: Buffer,
  offset: number,
): number {
  const v = a.type === 'MULTI_EXIT_DISC' ? a.med : a.localPref;
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff)
    throw new RangeError(`${a.type} ${v} must be an integer 0-4294967295`);
  buf.writeUInt32BE(v, offset);
  return offset + 4;
}

export function decodeUint32Value(
  type: 'MULTI_EXIT_DISC' | 'LOCAL_PREF',
  value: Buffer,
  raw: Buffer,
): MultiExitDiscAttribute | LocalPrefAttribute {
  if (value.length !== 4) {
    throw updateError(
      UpdateSubcode.AttributeLengthError,
      'treat-as-withdraw',
      `${type} length ${value.length} is not 4`,
      raw,
      AttributeType[type],
    );
  }
  const v = value.readUInt32BE(0);
  return type === 'MULTI_EXIT_DISC' ? { type, med: v } : { type, localPref: v };
}
