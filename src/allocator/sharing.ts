// May a holder use an IP that others already hold? Spec §2.3, MetalLB allocator.go checkSharing / sharingOK:
// 1. every other holder and the newcomer have the same non-empty allow-shared-ip key and the same backend key
//    ('' for externalTrafficPolicy Cluster, the canonical selector for Local), and
// 2. no (protocol, port) of the newcomer is used on the IP by a different holder (TCP/53 and UDP/53 coexist).
// A holder that is the IP's only user may change its own keys in place.
// The messages are the webhook's denial text, so they name the IP, the holders and the keys.
import { fail, type Failure } from './request.ts';
import { portKey, portOwner, type HolderInfo, type IpEntry } from './state.ts';

export function sharingProblem(e: IpEntry, self: string, info: HolderInfo): Failure | undefined {
  const others = e.holders.map((h) => h.key).filter((k) => k !== self).sort();
  if (others.length === 0) return undefined;
  const who = others.join(', ');
  if (e.sharingKey === '') {
    return fail('LB_IP_IN_USE', `${e.text} is held by ${who}, which does not allow sharing (no allow-shared-ip)`);
  }
  if (info.sharingKey !== e.sharingKey) {
    const mine = info.sharingKey === '' ? '' : ` (this Service has allow-shared-ip "${info.sharingKey}")`;
    return fail(
      'LB_SHARING_KEY_MISMATCH',
      `${e.text} is held by ${who} (allow-shared-ip "${e.sharingKey}"); set the same key to share it${mine}`,
    );
  }
  if (info.backendKey !== e.backendKey) {
    return fail(
      'LB_SHARING_KEY_MISMATCH',
      `${e.text} is held by ${who} with the same allow-shared-ip "${e.sharingKey}" but a different backend: ` +
        `externalTrafficPolicy/selector differ (held: ${backendText(e.backendKey)}; this Service: ` +
        `${backendText(info.backendKey)}); Services sharing an IP must all use Cluster, or all Local with the same selector`,
    );
  }
  for (const p of info.ports) {
    const owner = portOwner(e, p, self);
    if (owner !== undefined) {
      return fail('LB_PORT_CONFLICT', `port ${portKey(p)} is already in use on ${e.text} by ${owner}`);
    }
  }
  return undefined;
}

function backendText(backendKey: string): string {
  return backendKey === '' ? 'externalTrafficPolicy Cluster' : `externalTrafficPolicy Local, selector ${backendKey}`;
}
