// KindInfo for berth.io/v1alpha1 IPAddressClaim (the type and naming live in claim.ts).
import { CLAIM_GROUP, CLAIM_KIND, CLAIM_PLURAL, CLAIM_VERSION } from './claim.ts';
import { kindInfo } from './object.ts';

export const IP_ADDRESS_CLAIM = kindInfo(CLAIM_GROUP, CLAIM_VERSION, CLAIM_KIND, CLAIM_PLURAL, 'Cluster');
