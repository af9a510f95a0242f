// The lab's namespace segment and its API forwarding, for real (root only: skips with the reason otherwise).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { spawnNode } from '../processes.ts';
import { FORWARDER_MAIN, startBridge } from './forward.ts';
import { buildTopology, cleanStale, inNamespace, namespacesOf, neighbour, nodeAddresses, networkSupport, run } from './topology.ts';

const support = await networkSupport();
const skip = support.ok ? undefined : support.reason;
if (skip) process.stdout.write(`# skipping the namespace tests: ${skip}\n`);

test('nodeAddresses: the segment plan, and a clear error out of range', () => {
  assert.deepEqual(nodeAddresses(2), { name: 'n2', ipv4: '198.51.100.12', ipv6: '2001:db8:51::12', mac: '02:00:00:51:00:12' });
  assert.throws(() => nodeAddresses(0), /node index 0 is not an integer from 1 to 9/);
  assert.throws(() => nodeAddresses(10), /node index 10/);
});

test('segment: client reaches both nodes over IPv4 and IPv6 with the planned MACs; destroy leaves nothing', { skip }, async (t) => {
  const stateDir = mkdtempSync(join(tmpdir(), 'bt-netstate-'));
  const topo = await buildTopology({ nodes: 2, stateDir, prefix: `bt${process.pid}` });
  t.after(async () => {
    await topo.destroy();
    rmSync(stateDir, { recursive: true, force: true });
  });
  assert.equal(topo.nodes.length, 2);
  for (const n of topo.nodes) {
    const p4 = await inNamespace(topo.client.ns, 'ping', ['-c1', '-W2', n.ipv4]);
    assert.equal(p4.code, 0, `ping ${n.ipv4}: ${p4.stdout}${p4.stderr}`);
    const p6 = await inNamespace(topo.client.ns, 'ping', ['-6', '-c1', '-W2', n.ipv6]);
    assert.equal(p6.code, 0, `ping -6 ${n.ipv6}: ${p6.stdout}${p6.stderr}`);
    assert.equal((await neighbour(topo.client.ns, n.ipv4))?.lladdr, n.mac);
    assert.equal((await neighbour(topo.client.ns, n.ipv6))?.lladdr, n.mac);
  }
  // Nothing of the segment in the main namespace.
  const main = await run('ip', ['-o', 'link', 'show']);
  assert.doesNotMatch(main.stdout, /\bp[0-9]+@/);
  const foreign = await topo.addHost({ name: 'fx', ipv4: '198.51.100.9', ipv6: '2001:db8:51::9', mac: '02:00:00:51:00:09' });
  assert.equal((await inNamespace(topo.client.ns, 'ping', ['-c1', '-W2', foreign.ipv4])).code, 0);
  await topo.destroy();
  assert.deepEqual(await namespacesOf(topo.prefix), []);
});

test('segment: a node neither forwards nor redirects a packet for an address it does not hold (no "Redirect Host")', { skip }, async (t) => {
  const stateDir = mkdtempSync(join(tmpdir(), 'bt-netstate-'));
  const topo = await buildTopology({ nodes: 1, stateDir, prefix: `bt${process.pid}r` });
  t.after(async () => {
    await topo.destroy();
    rmSync(stateDir, { recursive: true, force: true });
  });
  const n1 = topo.nodes[0]!;
  // What a Service IP looks like to the client once n1's speaker answered its ARP request: n1's MAC, and no such
  // address on n1 (no kube-proxy in the lab). A forwarding node would send "Redirect Host" (same in/out interface).
  const serviceIp = '198.51.100.200';
  await run('ip', ['-n', topo.client.ns, 'neigh', 'replace', serviceIp, 'lladdr', n1.mac, 'dev', 'eth0', 'nud', 'permanent']);
  const r = await inNamespace(topo.client.ns, 'ping', ['-c', '2', '-i', '0.2', '-W', '1', serviceIp]);
  assert.notEqual(r.code, 0, 'no echo reply: nothing holds the address');
  assert.doesNotMatch(r.stdout + r.stderr, /Redirect|Unreachable/i, `n1 answered the client's ping with ICMP:\n${r.stdout}`);
  for (const [key, want] of [
    ['net.ipv4.conf.all.forwarding', '0'],
    ['net.ipv4.conf.all.send_redirects', '0'],
    ['net.ipv4.conf.eth0.send_redirects', '0'],
    ['net.ipv6.conf.all.forwarding', '0'],
  ] as const) {
    const s = await inNamespace(n1.ns, 'sysctl', ['-n', key]);
    assert.equal(s.stdout.trim(), want, `${key} in ${n1.ns}`);
  }
});

test('cleanStale: namespaces of a run whose process is gone are deleted, a live run is kept', { skip }, async (t) => {
  const stateDir = mkdtempSync(join(tmpdir(), 'bt-netstate-'));
  const dead = await buildTopology({ nodes: 1, stateDir, prefix: `bt${process.pid}d` });
  const live = await buildTopology({ nodes: 1, stateDir, prefix: `bt${process.pid}l` });
  t.after(async () => {
    await dead.destroy();
    await live.destroy();
    rmSync(stateDir, { recursive: true, force: true });
  });
  // A pid that existed and is gone: a finished child's.
  const child = spawnNode(FORWARDER_MAIN, ['--port', 'nope', '--socket', 'x'], { tsx: false });
  await child.done;
  writeFileSync(join(stateDir, `${dead.prefix}.json`), JSON.stringify({ prefix: dead.prefix, pid: child.pid, createdAt: 'x' }));
  const cleaned = await cleanStale(stateDir, { killProcesses: true });
  assert.deepEqual(cleaned, [dead.prefix]);
  assert.deepEqual(await namespacesOf(dead.prefix), []);
  assert.equal((await namespacesOf(live.prefix)).length, 3);
});

test('forwarder: a TCP client inside a node namespace reaches 127.0.0.1:<port> of the main namespace through the unix socket', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bt-fwd-'));
  const stateDir = join(dir, 'state');
  const topo = await buildTopology({ nodes: 1, stateDir, prefix: `bt${process.pid}f` });
  // An echo server on the main namespace's loopback stands for the lab API server.
  const echo = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  const port = (echo.address() as net.AddressInfo).port;
  const sock = join(dir, 'api.sock');
  const bridge = await startBridge(sock, { host: '127.0.0.1', port });
  const fwd = spawnNode(FORWARDER_MAIN, ['--port', String(port), '--socket', sock], { wrapper: ['ip', 'netns', 'exec', topo.nodes[0]!.ns] });
  t.after(async () => {
    await fwd.stop('SIGTERM', 2000);
    await bridge.close();
    echo.close();
    await topo.destroy();
    rmSync(dir, { recursive: true, force: true });
  });
  await fwd.waitFor(/forwarder: listening 127\.0\.0\.1:\d+/, 30_000);
  const script = `const s=require('net').connect(${port},'127.0.0.1',()=>s.write('hello through the namespace'));s.on('data',d=>{process.stdout.write(d);s.end()});s.on('error',e=>{console.error(e.message);process.exit(1)})`;
  const r = await inNamespace(topo.nodes[0]!.ns, process.execPath, ['-e', script]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'hello through the namespace');
  assert.ok(bridge.accepted >= 1);
  // The same port inside the client namespace has no forwarder: refused (namespaces are really separate).
  const c = await inNamespace(topo.client.ns, process.execPath, ['-e', script]);
  assert.notEqual(c.code, 0);
  assert.match(c.stderr, /ECONNREFUSED/);
});

test('forwarder: bad flags are refused with the value and the rule', async () => {
  const p = spawnNode(FORWARDER_MAIN, ['--port', '70000', '--socket', '/nonexistent']);
  assert.equal(await p.done, 2);
  assert.match(p.output(), /--port "70000" is not a port number 1-65535/);
});

test('networkSupport: a non-root process is told why it cannot build the segment', { skip: process.getuid?.() === 0 ? undefined : 'needs root to switch to nobody' }, async () => {
  const script = `const { networkSupport } = await import(${JSON.stringify(new URL('./topology.ts', import.meta.url).href)}); console.log(JSON.stringify(await networkSupport()));`;
  const r = await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script]);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout.trim()) as { ok: boolean; reason?: string };
  assert.equal(s.ok, false);
  assert.match(s.reason ?? '', /network namespaces need root \(uid is 65534\)/);
});

test('berth lab: --nodes without --network, or out of range, is refused with the rule', async () => {
  const main = new URL('../../cli/main.ts', import.meta.url).pathname;
  const a = spawnNode(main, ['lab', '--nodes', '3']);
  assert.equal(await a.done, 2);
  assert.match(a.output(), /--nodes "3" is for --network/);
  const b = spawnNode(main, ['lab', '--network', '--nodes', '12']);
  assert.equal(await b.done, 2);
  assert.match(b.output(), /--nodes "12" must be an integer from 1 to 9/);
});
