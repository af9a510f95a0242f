// BGP-4 protocol constants with their RFC / IANA names (IANA "Border Gateway Protocol (BGP) Parameters").
// Pure: no I/O.

/** Message types (RFC 4271 §4.1, RFC 2918 §3). */
export const MessageType = {
  Open: 1,
  Update: 2,
  Notification: 3,
  Keepalive: 4,
  RouteRefresh: 5,
} as const;

/** NOTIFICATION Error Codes (RFC 4271 §4.5, RFC 6608, RFC 7313). */
export const ErrorCode = {
  MessageHeaderError: 1,
  OpenMessageError: 2,
  UpdateMessageError: 3,
  HoldTimerExpired: 4,
  FiniteStateMachineError: 5,
  Cease: 6,
  RouteRefreshMessageError: 7,
} as const;

/** Message Header Error subcodes (RFC 4271 §6.1). */
export const MessageHeaderSubcode = {
  ConnectionNotSynchronized: 1,
  BadMessageLength: 2,
  BadMessageType: 3,
} as const;

/** OPEN Message Error subcodes (RFC 4271 §6.2, RFC 5492 §5, RFC 9234). */
export const OpenSubcode = {
  Unspecific: 0,
  UnsupportedVersionNumber: 1,
  BadPeerAs: 2,
  BadBgpIdentifier: 3,
  UnsupportedOptionalParameter: 4,
  UnacceptableHoldTime: 6,
  UnsupportedCapability: 7,
  RoleMismatch: 11,
} as const;

/** UPDATE Message Error subcodes (RFC 4271 §6.3). */
export const UpdateSubcode = {
  MalformedAttributeList: 1,
  UnrecognizedWellKnownAttribute: 2,
  MissingWellKnownAttribute: 3,
  AttributeFlagsError: 4,
  AttributeLengthError: 5,
  InvalidOriginAttribute: 6,
  InvalidNextHopAttribute: 8,
  OptionalAttributeError: 9,
  InvalidNetworkField: 10,
  MalformedAsPath: 11,
} as const;

/** Finite State Machine Error subcodes (RFC 6608 §3). */
export const FsmSubcode = {
  Unspecified: 0,
  UnexpectedMessageInOpenSent: 1,
  UnexpectedMessageInOpenConfirm: 2,
  UnexpectedMessageInEstablished: 3,
} as const;

/** Cease subcodes (RFC 4486 §4, RFC 8538, RFC 9384). */
export const CeaseSubcode = {
  MaximumNumberOfPrefixesReached: 1,
  AdministrativeShutdown: 2,
  PeerDeconfigured: 3,
  AdministrativeReset: 4,
  ConnectionRejected: 5,
  OtherConfigurationChange: 6,
  ConnectionCollisionResolution: 7,
  OutOfResources: 8,
  HardReset: 9,
  BfdDown: 10,
} as const;

/** ROUTE-REFRESH Message Error subcodes (RFC 7313 §5). */
export const RouteRefreshSubcode = { InvalidMessageLength: 1 } as const;

/** Path attribute type codes (RFC 4271 §5, RFC 4760, RFC 1997, RFC 4360, RFC 6793, RFC 8092). */
export const AttributeType = {
  ORIGIN: 1,
  AS_PATH: 2,
  NEXT_HOP: 3,
  MULTI_EXIT_DISC: 4,
  LOCAL_PREF: 5,
  ATOMIC_AGGREGATE: 6,
  AGGREGATOR: 7,
  COMMUNITIES: 8,
  ORIGINATOR_ID: 9,
  CLUSTER_LIST: 10,
  MP_REACH_NLRI: 14,
  MP_UNREACH_NLRI: 15,
  EXTENDED_COMMUNITIES: 16,
  AS4_PATH: 17,
  AS4_AGGREGATOR: 18,
  LARGE_COMMUNITY: 32,
} as const;
export type AttributeTypeName = keyof typeof AttributeType;

/** Attribute Flags bits (RFC 4271 §4.3). The low four bits are unused: zero when sent, ignored when received. */
export const AttributeFlag = {
  Optional: 0x80,
  Transitive: 0x40,
  Partial: 0x20,
  ExtendedLength: 0x10,
} as const;

/** Address Family Identifiers (IANA) and Subsequent AFIs (RFC 4760). */
export const Afi = { IPv4: 1, IPv6: 2 } as const;
export const Safi = { Unicast: 1, Multicast: 2 } as const;

/** Capability codes (RFC 5492 §4, IANA "Capability Codes"). */
export const CapabilityCode = {
  Multiprotocol: 1,
  RouteRefresh: 2,
  ExtendedNextHopEncoding: 5,
  ExtendedMessage: 6,
  Role: 9,
  GracefulRestart: 64,
  FourOctetAs: 65,
  AddPath: 69,
  EnhancedRouteRefresh: 70,
  LongLivedGracefulRestart: 71,
  Fqdn: 73,
  SoftwareVersion: 75,
  RouteRefreshCisco: 128,
} as const;

/** Optional Parameter types in OPEN (RFC 5492 §4; type 1 Authentication is deprecated by RFC 5492). */
export const OptionalParameterType = { Capabilities: 2, ExtendedLength: 255 } as const;

/** AS_PATH segment types (RFC 4271 §4.3, RFC 5065 §3). */
export const AsPathSegmentType = {
  AS_SET: 1,
  AS_SEQUENCE: 2,
  AS_CONFED_SEQUENCE: 3,
  AS_CONFED_SET: 4,
} as const;

/** ORIGIN values (RFC 4271 §5.1.1). */
export const Origin = { IGP: 0, EGP: 1, INCOMPLETE: 2 } as const;

/** RFC 6793 §9: the reserved 2-octet AS number that stands for a 4-octet one. */
export const AS_TRANS = 23456;

/** BGP-4 (RFC 4271 §4.2). */
export const BGP_VERSION = 4;
/** Header: 16-byte marker, 2-byte length, 1-byte type (RFC 4271 §4.1). */
export const HEADER_LENGTH = 19;
/** RFC 4271 §4.1 maximum message size; RFC 8654 raises it to 65535 once Extended Message is negotiated. */
export const MAX_MESSAGE_LENGTH = 4096;
export const MAX_EXTENDED_MESSAGE_LENGTH = 65535;

/** Well-known communities (RFC 1997 §2, RFC 3765, RFC 7611, RFC 7999, RFC 8326, draft-ietf-idr-long-lived-gr). */
export const WellKnownCommunity = {
  GRACEFUL_SHUTDOWN: 0xffff0000,
  ACCEPT_OWN: 0xffff0001,
  LLGR_STALE: 0xffff0006,
  NO_LLGR: 0xffff0007,
  BLACKHOLE: 0xffff029a,
  NO_EXPORT: 0xffffff01,
  NO_ADVERTISE: 0xffffff02,
  NO_EXPORT_SUBCONFED: 0xffffff03,
  NOPEER: 0xffffff04,
} as const;

/** Extended community type/sub-type of the link-bandwidth community (draft-ietf-idr-link-bandwidth §2). */
export const LINK_BANDWIDTH = { type: 0x40, subtype: 0x04 } as const;

/**
 * The RFC/IANA name of `code` in one of the tables above, e.g. `nameOf(ErrorCode, 6)` → `'Cease'`;
 * `UNKNOWN_<code>` when the table has no such value (dns-packet `types.toString` style).
 */
export function nameOf(table: Readonly<Record<string, number>>, code: number): string {
  for (const [k, v] of Object.entries(table)) if (v === code) return k;
  return `UNKNOWN_${code}`;
}
