// Decode errors of the BGP wire codec. Each one carries the NOTIFICATION it maps to (RFC 4271 §6) and the RFC 7606
// error handling the session applies (gobgp pkg/packet/bgp MessageError + ErrorHandling, redone from the RFCs).
import {
  CeaseSubcode,
  ErrorCode,
  FsmSubcode,
  MessageHeaderSubcode,
  OpenSubcode,
  RouteRefreshSubcode,
  UpdateSubcode,
  nameOf,
} from './constants.ts';

/**
 * RFC 7606 §2: 'session-reset' (send the NOTIFICATION, close: RFC 4271 behaviour), 'treat-as-withdraw' (the UPDATE's
 * routes are treated as withdrawn, the session stays up), 'attribute-discard' (the attribute is dropped, the rest
 * of the UPDATE is processed). berth does not do 'AFI/SAFI disable': where RFC 7606 allows it, it resets the session.
 */
export type ErrorHandling = 'session-reset' | 'treat-as-withdraw' | 'attribute-discard';

/** The only error the decoders throw (fuzz-tested). `data` is the NOTIFICATION's Data field (RFC 4271 §4.5). */
export class BgpDecodeError extends Error {
  override readonly name = 'BgpDecodeError';
  /** NOTIFICATION Error Code (constants.ts ErrorCode). */
  readonly code: number;
  /** NOTIFICATION Error Subcode. */
  readonly subcode: number;
  /** NOTIFICATION Data (e.g. the erroneous attribute, the bad length field). */
  readonly data: Buffer;
  readonly handling: ErrorHandling;
  /** The path attribute type code the error is about, when it is about one. */
  readonly attributeType: number | undefined;

  constructor(o: {
    code: number;
    subcode: number;
    data?: Buffer;
    handling?: ErrorHandling;
    message: string;
    attributeType?: number;
  }) {
    super(o.message);
    this.code = o.code;
    this.subcode = o.subcode;
    this.data = o.data ?? Buffer.alloc(0);
    this.handling = o.handling ?? 'session-reset';
    this.attributeType = o.attributeType;
  }

  /** `'UpdateMessageError/MalformedAsPath'` style label, for logs and metrics. */
  get label(): string {
    return notificationLabel(this.code, this.subcode);
  }
}

/** `Code/Subcode` names of a NOTIFICATION, e.g. `Cease/AdministrativeShutdown`. */
export function notificationLabel(code: number, subcode: number): string {
  const sub = SUBCODES[code];
  return `${nameOf(ErrorCode, code)}/${sub ? nameOf(sub, subcode) : String(subcode)}`;
}

const SUBCODES: Record<number, Readonly<Record<string, number>>> = {
  [ErrorCode.MessageHeaderError]: MessageHeaderSubcode,
  [ErrorCode.OpenMessageError]: OpenSubcode,
  [ErrorCode.UpdateMessageError]: UpdateSubcode,
  [ErrorCode.FiniteStateMachineError]: FsmSubcode,
  [ErrorCode.Cease]: CeaseSubcode,
  [ErrorCode.RouteRefreshMessageError]: RouteRefreshSubcode,
};

/** A Message Header Error (RFC 4271 §6.1): always a session reset. */
export function headerError(subcode: number, message: string, data?: Buffer): BgpDecodeError {
  return new BgpDecodeError({ code: ErrorCode.MessageHeaderError, subcode, data, message });
}

/** An OPEN Message Error (RFC 4271 §6.2): always a session reset. */
export function openError(subcode: number, message: string, data?: Buffer): BgpDecodeError {
  return new BgpDecodeError({ code: ErrorCode.OpenMessageError, subcode, data, message });
}

/** An UPDATE Message Error (RFC 4271 §6.3) with its RFC 7606 handling; `raw` is the whole erroneous attribute. */
export function updateError(
  subcode: number,
  handling: ErrorHandling,
  message: string,
  raw?: Buffer,
  attributeType?: number,
): BgpDecodeError {
  return new BgpDecodeError({
    code: ErrorCode.UpdateMessageError,
    subcode,
    data: raw,
    handling,
    message,
    attributeType,
  });
}
