// NOTIFICATION message (RFC 4271 §4.5), with the Shutdown Communication of RFC 9003 for Cease subcodes 2 and 4.
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   | Error code    | Error subcode |   Data (variable)             |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
import { CeaseSubcode, ErrorCode } from './constants.ts';
import { type BgpDecodeError, notificationLabel } from './errors.ts';

export interface NotificationMessage {
  type: 'notification';
  /** Error Code (constants.ts ErrorCode). */
  code: number;
  subcode: number;
  data: Buffer;
}

/**
 * A NOTIFICATION; for Cease/Administrative Shutdown or Reset a `shutdownCommunication` text (at most 255 UTF-8 bytes,
 * RFC 9003 §2) becomes the Data field. Throws RangeError naming a bad code or a too-long text.
 */
export function newNotification(
  code: number,
  subcode: number,
  o: { data?: Buffer; shutdownCommunication?: string } = {},
): NotificationMessage {
  for (const [n, v] of [
    ['error code', code],
    ['error subcode', subcode],
  ] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 255)
      throw new RangeError(`NOTIFICATION ${n} ${v} must be an integer 0-255`);
  }
  let data = o.data ?? Buffer.alloc(0);
  if (o.shutdownCommunication !== undefined) {
    const text = Buffer.from(o.shutdownCommunication, 'utf8');
    if (text.length > 255)
      throw new RangeError(`shutdown communication is ${text.length} bytes, at most 255 (RFC 9003 §2)`);
    data = Buffer.concat([Buffer.from([text.length]), text]);
  }
  return { type: 'notification', code, subcode, data };
}

/** The NOTIFICATION the session sends for a decode error (RFC 4271 §6: its code, subcode and data). */
export function notificationFor(err: BgpDecodeError): NotificationMessage {
  return { type: 'notification', code: err.code, subcode: err.subcode, data: err.data };
}

export function notificationBodyLength(m: NotificationMessage): number {
  return 2 + m.data.length;
}

/** Writes the NOTIFICATION body at `offset`; returns the new offset. */
export function encodeNotificationBody(m: NotificationMessage, buf: Buffer, offset: number): number {
  buf[offset] = m.code;
  buf[offset + 1] = m.subcode;
  m.data.copy(buf, offset + 2);
  return offset + 2 + m.data.length;
}

/** Decodes a NOTIFICATION body `buf[start, end)` (the header check guarantees at least 2 bytes). Never throws. */
export function decodeNotificationBody(buf: Buffer, start: number, end: number): NotificationMessage {
  return {
    type: 'notification',
    code: buf[start]!,
    subcode: buf[start + 1]!,
    data: Buffer.from(buf.subarray(start + 2, end)),
  };
}

/** The RFC 9003 Shutdown Communication of a Cease/Administrative Shutdown or Reset, when present and well-formed. */
export function shutdownCommunication(m: NotificationMessage): string | undefined {
  if (m.code !== ErrorCode.Cease) return undefined;
  if (m.subcode !== CeaseSubcode.AdministrativeShutdown && m.subcode !== CeaseSubcode.AdministrativeReset)
    return undefined;
  if (m.data.length < 1 || m.data[0] === 0 || m.data[0]! + 1 > m.data.length) return undefined;
  return m.data.subarray(1, 1 + m.data[0]!).toString('utf8');
}

/**
 * Human text for events and logs: `Cease/AdministrativeShutdown: "maintenance"`, `UpdateMessageError/MalformedAsPath
 * (data 02 01 ...)`.
 */
export function notificationText(m: NotificationMessage): string {
  const label = notificationLabel(m.code, m.subcode);
  const text = shutdownCommunication(m);
  if (text !== undefined) return `${label}: ${JSON.stringify(text)}`;
  if (m.data.length === 0) return label;
  const hex = [...m.data.subarray(0, 32)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  return `${label} (data ${hex}${m.data.length > 32 ? ' ...' : ''})`;
}
