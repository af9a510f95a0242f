// Rules on UPDATE that compare the old and the new object: the CRDs' transition rules (`self == oldSelf`), which the
// API server enforces through CEL and the webhook re-checks so the message is the same everywhere.
import { BGP_PEER } from '../api/bgp-peer.ts';
import { BGP_PEER_V1BETA1 } from '../api/bgp-peer-v1beta1.ts';
import { IP_ADDRESS_CLAIM } from '../api/ip-address-claim.ts';
import { objectRef, type KubeObject } from '../api/object.ts';
import type { Problem } from '../shared/codes.ts';
import { peerSpecOf } from './peers.ts';

export function updateProblems(oldObj: KubeObject, newObj: KubeObject): Problem[] {
  const object = objectRef(newObj);
  const out: Problem[] = [];
  const isPeer = (o: KubeObject): boolean =>
    o.kind === BGP_PEER.kind &&
    (o.apiVersion === BGP_PEER.apiVersion || o.apiVersion === BGP_PEER_V1BETA1.apiVersion);
  if (isPeer(oldObj) && isPeer(newObj)) {
    // MetalLB api/v1beta2/bgppeer_types.go: changing it needs a session restart, so it is fixed at creation.
    const before = peerSpecOf(oldObj).enableGracefulRestart;
    const after = peerSpecOf(newObj).enableGracefulRestart;
    if (before !== after) {
      out.push({
        code: 'LB_IMMUTABLE_FIELD',
        path: 'spec.enableGracefulRestart',
        object,
        message: 'EnableGracefulRestart cannot be changed after creation',
      });
    }
  }
  if (oldObj.kind === IP_ADDRESS_CLAIM.kind && newObj.kind === IP_ADDRESS_CLAIM.kind) {
    const before = (oldObj.spec as { ip?: unknown } | undefined)?.ip;
    const after = (newObj.spec as { ip?: unknown } | undefined)?.ip;
    if (before !== after)
      out.push({ code: 'LB_IMMUTABLE_FIELD', path: 'spec.ip', object, message: 'ip is immutable' });
  }
  return out;
}
