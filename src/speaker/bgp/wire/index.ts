// The BGP-4 wire codec (issue 9 "Wire codec"): pure encode/decode of every message and path attribute berth's
// speaker sends or receives. No sockets, no timers (architecture.md): the session edge owns those.
export * from './constants.ts';
export * from './errors.ts';
export * from './prefix.ts';
export * from './header.ts';
export * from './capabilities.ts';
export * from './open.ts';
export * from './notification.ts';
export * from './keepalive.ts';
export * from './route-refresh.ts';
export * from './attributes/index.ts';
export * from './update.ts';
export * from './message.ts';
