// KEEPALIVE message (RFC 4271 §4.4): the header alone, length exactly 19 (checked by header.ts).
export interface KeepaliveMessage {
  type: 'keepalive';
}

/** The one KEEPALIVE value. */
export const KEEPALIVE: KeepaliveMessage = Object.freeze({ type: 'keepalive' }) as KeepaliveMessage;
