import { Allocator } from '../src/allocator/index.ts';
import { formatIp, parseIp } from '../src/shared/ip.ts';
const t0 = performance.now();
const v6 = parseIp('fd00::')!.value;

const t1 = performance.now();
const v4 = parseIp('10.0.0.0')!.value;

const t2 = performance.now();
console.log('v6 format µs', (t1 - t0) * 10, 'v4 format µs', (t2 - t1) * 10);
const a = new Allocator();
a.setPools([{ name: 'v4', addresses: ['10.0.0.0/8'], autoAssign: true, avoidBuggyIPs: false }, { name: 'v6', addresses: ['fd00::/64'], autoAssign: true, avoidBuggyIPs: false }]);
const reqs = Array.from({ length: 100000 }, (_, i) => ({ namespace: 'b', name: `s${i}`, labels: {}, ports: [{ protocol: 'TCP' as const, port: 80 }], sharingKey: '', backendKey: '', families: [i % 5 >= 3 ? 'IPv6' as const : 'IPv4' as const], ipFamilyPolicy: 'SingleStack' as const, requestedIPs: [] }));
const t3 = performance.now();
const keys = reqs.map((_, i) => `b/s${i}`); const t4 = performance.now(); for (let i = 0; i < 100000; i++) a.allocate(keys[i]!, reqs[i]!); console.log('pure alloc µs', (performance.now() - t4) * 10);
console.log('alloc µs', (performance.now() - t3) * 10);
