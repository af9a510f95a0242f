// ORIGIN (type 1, well-known mandatory; RFC 4271 §4.3 a, §5.1.1): one octet, 0 IGP, 1 EGP, 2 INCOMPLETE.
//   RFC 7606 §7.1: length other than 1 or an undefined value → treat-as-withdraw.
import { AttributeType, Origin, UpdateSubcode } from '../constants.ts';
import { updateError } from '../errors.ts';

export type OriginName = keyof typeof Origin;

export interface OriginAttribute {
  type: 'ORIGIN';
  origin: OriginName;
}

export function originValueLength(): number {
  return 1;
}

export function encodeOriginValue(a: OriginAttribute, buf: Buffer, offset: number): number {
  const v = Origin[a.origin];
  if (v === undefined)
    throw new RangeError(`ORIGIN ${JSON.stringify(a.origin)} must be IGP, EGP or INCOMPLETE`);
  buf[offset] = v;
  return offset + 1;
}

export function decodeOriginValue(value: Buffer, raw: Buffer): OriginAttribute {
  if (value.length !== 1) {
    throw updateError(
      UpdateSubcode.AttributeLengthError,
      'treat-as-withdraw',
      `ORIGIN length ${value.length} is not 1`,
      raw,
      AttributeType.ORIGIN,
    );
  }
  const v = value[0]!;
  const name = (Object.keys(Origin) as OriginName[]).find((k) => Origin[k] === v);
  if (name === undefined) {
    throw updateError(
      UpdateSubcode.InvalidOriginAttribute,
      'treat-as-withdraw',
      `ORIGIN value ${v} is not 0-2`,
      raw,
      AttributeType.ORIGIN,
    );
  }
  return { type: 'ORIGIN', origin: name };
}
