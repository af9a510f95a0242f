import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  LinkError,
  openPacketSocket,
  setTcpMd5Sig,
  socketFd,
  bindToDevice,
  openTcpSocket,
  NDP_FILTER,
  arpFilter,
  mallocTrim,
  startMallocTrim,
  realtimeMicros,
} from './packet.ts';
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const root = process.getuid?.() === 0;

test('openPacketSocket: bad arguments are TypeErrors naming the value and the rule', () => {
  assert.throws(
    () => openPacketSocket({ ifname: 'eth0/x', ethertype: 0x0806, onFrame: () => {} }),
    /interface name "eth0\/x" is invalid/,
  );
  assert.throws(
    () => openPacketSocket({ ifname: 'a'.repeat(16), ethertype: 0x0806, onFrame: () => {} }),
    TypeError,
  );
  assert.throws(
    () => openPacketSocket({ ifname: 'lo', ethertype: 0x10000, onFrame: () => {} }),
    /ethertype 65536 is invalid/,
  );
  assert.throws(() => openPacketSocket({ ifname: 'lo', ethertype: 1.5, onFrame: () => {} }), TypeError);
});

test('openPacketSocket: answerPriority outside 0..99 is a RangeError naming it and the rule, before any socket', () => {
  for (const p of [-1, 100, 1.5, Number.NaN])
    assert.throws(
      () => openPacketSocket({ ifname: 'lo', ethertype: 0x0806, onFrame: () => {}, answerPriority: p }),
      (e: unknown) =>
        e instanceof RangeError && e.message === `answerPriority ${String(p)} for lo is invalid: 0 (SCHED_OTHER) or a SCHED_FIFO priority 1..99`,
    );
});

test('openPacketSocket: a missing interface is LinkError ENODEV naming it', () => {
  assert.throws(
    () => openPacketSocket({ ifname: `bt${process.pid % 100000}nx`, ethertype: 0x0806, onFrame: () => {} }),
    (e: unknown) =>
      e instanceof LinkError &&
      e.code === 'ENODEV' &&
      e.ifname === `bt${process.pid % 100000}nx` &&
      /ENODEV/.test(e.message),
  );
});

test(
  'openPacketSocket on loopback: ifindex, MAC, idempotent close, send after close is EBADF',
  { skip: root ? false : 'needs root (CAP_NET_RAW)' },
  (t) => {
    const s = openPacketSocket({ ifname: 'lo', ethertype: 0x88b5, onFrame: () => {} });
    t.after(() => s.close()); // an open socket would keep the test process alive after a failed assertion
    assert.equal(s.ifname, 'lo');
    assert.ok(s.ifindex >= 1);
    assert.equal(s.mac.length, 6);
    assert.throws(() => s.send(Buffer.alloc(10)), /shorter than the 14-byte Ethernet header/);
    assert.throws(
      () => s.addMembership({ kind: 'multicast', mac: '02:00:00:00:00:01' }),
      /not a multicast address/,
    );
    assert.throws(() => s.addMembership({ kind: 'multicast', mac: '33:33:ff:00:01' }), /six hex octets/);
    assert.throws(
      () => s.addMembership({ kind: 'everything' } as never),
      /membership kind "everything" is invalid/,
    );
    s.addMembership({ kind: 'allmulti' });
    s.dropMembership({ kind: 'allmulti' });
    s.close();
    s.close();
    assert.throws(
      () => s.send(Buffer.alloc(60)),
      (e: unknown) => e instanceof LinkError && e.code === 'EBADF',
    );
    assert.throws(
      () => s.addMembership({ kind: 'allmulti' }),
      (e: unknown) => e instanceof LinkError && e.code === 'EBADF',
    );
  },
);

test(
  'openPacketSocket on loopback: frames of the bound ethertype arrive, a throwing handler does not stop the socket',
  { skip: root ? false : 'needs root (CAP_NET_RAW)' },
  async () => {
    // On lo every frame we send is also received as PACKET_HOST (besides the skipped PACKET_OUTGOING copy).
    const ethertype = 0x88b5; // IEEE 802 local experimental
    const got: Buffer[] = [];
    const errors: LinkError[] = [];
    let done!: () => void;
    const twoFrames = new Promise<void>((r) => (done = r));
    const rx = openPacketSocket({
      ifname: 'lo',
      ethertype,
      onFrame: (f, meta) => {
        assert.equal(meta.outgoing, false);
        got.push(f);
        if (got.length === 1) throw new Error('handler bug');
        if (got.length === 2) done();
      },
      onError: (e) => errors.push(e),
    });
    const tx = openPacketSocket({
      ifname: 'lo',
      ethertype: 0x88b6,
      onFrame: () => assert.fail('other ethertype delivered'),
    });
    try {
      const frame = (n: number, type: number): Buffer => {
        const b = Buffer.alloc(60);
        b.writeUInt16BE(type, 12);
        b[14] = n;
        return b;
      };
      tx.send(frame(1, ethertype));
      tx.send(frame(9, 0x88b7)); // neither socket's ethertype: nobody gets it
      tx.send(frame(2, ethertype));
      await twoFrames;
      assert.deepEqual(
        got.map((f) => f[14]),
        [1, 2],
      );
      assert.equal(errors.length, 1);
      assert.equal(errors[0]?.code, 'EHANDLER');
      assert.match(errors[0]?.message ?? '', /handler bug/);
      const { batches, largestBatch, ...counts } = rx.stats();
      assert.deepEqual(counts, {
        received: 2,
        kernelDrops: 0,
        handlerErrors: 1,
        sendErrors: 0,
        answeredNatively: 0,
      });
      assert.ok(batches >= 1 && batches <= 2 && largestBatch >= 1, JSON.stringify(rx.stats()));
    } finally {
      rx.close();
      tx.close();
    }
    const { received, kernelDrops, handlerErrors } = rx.stats();
    assert.deepEqual(
      { received, kernelDrops, handlerErrors },
      { received: 2, kernelDrops: 0, handlerErrors: 1 },
      'stats readable after close',
    );
  },
);

for (const ring of [false, { frames: 256, frameSize: 256 }] as const)
  test(
    `openPacketSocket on loopback: a flood that overfills the receive queue is counted in kernelDrops (ring ${JSON.stringify(ring)})`,
    { skip: root ? false : 'needs root (CAP_NET_RAW)' },
    async () => {
      const ethertype = 0x88b5;
      let last = -1;
      let done!: () => void;
      const marker = new Promise<void>((r) => (done = r));
      const rx = openPacketSocket({
        ifname: 'lo',
        ethertype,
        ring,
        onFrame: (f) => {
          last = f.readUInt32BE(14);
          if (last === 0xffffffff) done();
        },
      });
      assert.equal(rx.ring, ring !== false);
      const tx = openPacketSocket({ ifname: 'lo', ethertype, onFrame: () => {} });
      try {
        const f = Buffer.alloc(60);
        f.writeUInt16BE(ethertype, 12);
        // 5,000 frames without yielding to the event loop: far more than the socket's receive buffer holds.
        for (let i = 0; i < 5000; i++) {
          f.writeUInt32BE(i, 14);
          tx.send(f);
        }
        // The socket still works after the drops: a marker, resent until the drained queue has room for it, arrives.
        f.writeUInt32BE(0xffffffff, 14);
        const resend = setInterval(() => tx.send(f), 50);
        try {
          tx.send(f);
          await marker;
        } finally {
          clearInterval(resend);
        }
        const st = rx.stats();
        assert.ok(st.kernelDrops > 0, `kernelDrops ${st.kernelDrops}`);
        assert.ok(st.received < 5000, `received ${st.received}`);
      } finally {
        rx.close();
        tx.close();
      }
    },
  );

test(
  'openPacketSocket on loopback: 1,000 frames pending at one wake-up reach JS as one batch from the ring, all counted, none dropped',
  { skip: root ? false : 'needs root (CAP_NET_RAW)' },
  async () => {
    const ethertype = 0x88b4;
    const seen: number[] = [];
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    const rx = openPacketSocket({
      ifname: 'lo',
      ethertype,
      ring: { frames: 2048, frameSize: 256 },
      onFrame: (f) => {
        assert.equal(f.length, 60);
        seen.push(f.readUInt32BE(14));
        if (seen.length === 1000) done();
      },
    });
    const tx = openPacketSocket({ ifname: 'lo', ethertype: 0x88b3, ring: false, onFrame: () => {} });
    try {
      assert.equal(rx.ring, true);
      assert.throws(
        () => tx.sendBatch([Buffer.alloc(60), Buffer.alloc(13)]),
        /13 bytes .* shorter than the 14-byte/,
      );
      assert.throws(() => tx.sendBatch('x' as never), /must be an Array of Buffers/);
      // Sent without yielding to the event loop (one sendmmsg per 1,024): on loopback each frame is in rx's ring when
      // sendBatch returns, so the first wake-up finds all of them.
      const frames = Array.from({ length: 1000 }, (_, i) => {
        const f = Buffer.alloc(60);
        f.writeUInt16BE(ethertype, 12);
        f.writeUInt32BE(i, 14);
        return f;
      });
      assert.equal(tx.sendBatch(frames), 1000);
      await all;
      assert.deepEqual(
        seen,
        frames.map((_, i) => i),
        'every frame, in order, with its own bytes',
      );
      const st = rx.stats();
      assert.equal(st.received, 1000);
      assert.equal(st.kernelDrops, 0);
      assert.equal(st.largestBatch, 1000, JSON.stringify(st));
      assert.equal(st.batches, 1, JSON.stringify(st));
    } finally {
      rx.close();
      tx.close();
    }
  },
);

test(
  'openPacketSocket on loopback: replies sent from onFrame go out after the batch, all of them, in order; a refused one is counted and reported',
  { skip: root ? false : 'needs root (CAP_NET_RAW)' },
  async () => {
    const errors: LinkError[] = [];
    const rx = openPacketSocket({
      ifname: 'lo',
      ethertype: 0x88b4,
      onError: (e) => errors.push(e),
      onFrame: (f) => {
        const n = f.readUInt32BE(14);
        // Frame 7's reply is bigger than lo's 65,536-byte MTU: the kernel refuses it (EMSGSIZE).
        const reply = Buffer.alloc(n === 7 ? 70_000 : 60);
        reply.writeUInt16BE(0x88b2, 12);
        reply.writeUInt32BE(n, 14);
        rx.send(reply);
      },
    });
    const replies: number[] = [];
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    const collect = openPacketSocket({
      ifname: 'lo',
      ethertype: 0x88b2,
      onFrame: (f) => {
        replies.push(f.readUInt32BE(14));
        if (f.readUInt32BE(14) === 299) done();
      },
    });
    const tx = openPacketSocket({ ifname: 'lo', ethertype: 0x88b3, ring: false, onFrame: () => {} });
    try {
      const frames = Array.from({ length: 300 }, (_, i) => {
        const f = Buffer.alloc(60);
        f.writeUInt16BE(0x88b4, 12);
        f.writeUInt32BE(i, 14);
        return f;
      });
      assert.equal(tx.sendBatch(frames), 300);
      await all;
      assert.deepEqual(
        replies,
        frames.map((_, i) => i).filter((i) => i !== 7),
      );
      assert.equal(rx.stats().sendErrors, 1);
      assert.equal(errors.length, 1);
      assert.equal(errors[0]?.code, 'EMSGSIZE');
      assert.equal(errors[0]?.syscall, 'sendmmsg');
      // Outside a batch send() still throws at once.
      assert.throws(
        () => rx.send(Buffer.alloc(70_000)),
        (e: unknown) => e instanceof LinkError && e.code === 'EMSGSIZE',
      );
    } finally {
      rx.close();
      collect.close();
      tx.close();
    }
  },
);

test(
  'openPacketSocket: NDP_FILTER lets only Neighbor Solicitations/Advertisements (and runt frames) reach an IPv6 socket',
  { skip: root ? false : 'needs root (CAP_NET_RAW)' },
  async () => {
    const got: Buffer[] = [];
    let done!: () => void;
    const marker = new Promise<void>((r) => (done = r));
    const rx = openPacketSocket({
      ifname: 'lo',
      ethertype: 0x86dd,
      filter: NDP_FILTER,
      onFrame: (f) => {
        got.push(Buffer.from(f));
        if (f.length === 20) done();
      },
    });
    const tx = openPacketSocket({ ifname: 'lo', ethertype: 0x88b3, onFrame: () => {} });
    try {
      const ipv6 = (next: number, icmpType: number): Buffer => {
        const f = Buffer.alloc(90);
        f.writeUInt16BE(0x86dd, 12);
        f[14] = 0x60;
        f[20] = next;
        f[21] = 255;
        f[54] = icmpType;
        return f;
      };
      const runt = Buffer.alloc(20);
      runt.writeUInt16BE(0x86dd, 12);
      tx.send(ipv6(17, 135)); // UDP: filtered
      tx.send(ipv6(58, 128)); // ICMPv6 echo request: filtered
      tx.send(ipv6(58, 135)); // NS
      tx.send(ipv6(58, 136)); // NA
      tx.send(runt); // too short to tell: passed, so the responder counts it as truncated
      await marker;
      assert.deepEqual(
        got.map((f) => (f.length === 20 ? 'runt' : `${f[20]}/${f[54]}`)),
        ['58/135', '58/136', 'runt'],
      );
    } finally {
      rx.close();
      tx.close();
    }
    assert.throws(
      () =>
        openPacketSocket({
          ifname: 'lo',
          ethertype: 0x86dd,
          filter: [{ code: 6, jt: 0, jf: 0, k: -1 }],
          onFrame: () => {},
        }),
      /BPF instruction 0 .* is invalid/,
    );
  },
);

test(
  'openPacketSocket: a bad ring size is a TypeError naming the rule',
  { skip: root ? false : 'needs root (CAP_NET_RAW)' },
  () => {
    assert.throws(
      () =>
        openPacketSocket({
          ifname: 'lo',
          ethertype: 0x88b5,
          ring: { frames: 16, frameSize: 100 },
          onFrame: () => {},
        }),
      /frameSize a power of two in 128\.\.65536/,
    );
  },
);

test('setTcpMd5Sig / bindToDevice: bad input is rejected before any syscall, without echoing the key', () => {
  assert.throws(() => setTcpMd5Sig(-1, { address: '192.0.2.1' }, 'k'), /fd -1 is invalid/);
  assert.throws(
    () => setTcpMd5Sig(3, { address: '192.0.2.300' }, 'k'),
    /"192.0.2.300" is not an IPv4 or IPv6 address/,
  );
  assert.throws(
    () => setTcpMd5Sig(3, { address: '192.0.2.1', prefixLength: 33 }, 'k'),
    /prefix length 33 .* 0\.\.32/,
  );
  assert.throws(
    () => setTcpMd5Sig(3, { address: '2001:db8::1' }, 's3cret'.repeat(20)),
    (e: unknown) =>
      e instanceof RangeError && /120 bytes: at most 80/.test(e.message) && !e.message.includes('s3cret'),
  );
  assert.throws(() => bindToDevice(3, 'a/b'), TypeError);
});

test('socketFd: a listening server has an fd, an unconnected socket has none (EBADF)', async (t) => {
  const server = net.createServer();
  t.after(() => server.close());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  assert.ok(socketFd(server) > 2);
  assert.throws(
    () => socketFd(new net.Socket()),
    (e: unknown) => e instanceof LinkError && e.code === 'EBADF',
  );
});

test('setTcpMd5Sig on a listening IPv6 socket accepts IPv4 and IPv6 peers and removal', async (t) => {
  const server = net.createServer();
  t.after(() => server.close());
  await new Promise<void>((r) => server.listen(0, '::1', r));
  const fd = socketFd(server);
  setTcpMd5Sig(fd, { address: '192.0.2.1' }, 'key');
  setTcpMd5Sig(fd, { address: '2001:db8::1' }, 'key');
  setTcpMd5Sig(fd, { address: '2001:db8::', prefixLength: 64 }, 'key');
  setTcpMd5Sig(fd, { address: '192.0.2.1' }, '');
  setTcpMd5Sig(fd, { address: '198.51.100.1' }, ''); // removing a key that was never set is fine
});

test('openTcpSocket: an IPv6 peer key on an IPv4 socket is refused and the fd is not leaked', () => {
  const fds = (): number => readdirSync('/proc/self/fd').length;
  const before = fds();
  assert.throws(
    () => openTcpSocket({ family: 4, md5: { peer: { address: '2001:db8::1' }, key: 'k' } }),
    /IPv6 but the socket is IPv4/,
  );
  assert.equal(fds(), before);
  assert.throws(() => openTcpSocket({ family: 5 as 4, md5: undefined }), /family 5 is invalid/);
});

test(
  'a worker thread that exits with its packet socket still open (or just closed) does not crash the process',
  { skip: root ? false : 'needs root (CAP_NET_RAW)', timeout: 60_000 },
  () => {
    const addonPath = fileURLToPath(
      new URL('../../../native/build/Release/berth_native.node', import.meta.url),
    );
    for (const [close, ring, arp] of [
      [false, undefined, false],
      [true, undefined, false],
      [false, { frames: 64, frameSize: 256 }, false],
      [true, { frames: 64, frameSize: 256 }, false],
      // with the native ARP answer on, the socket's answer thread is joined on close and on the worker's exit
      [false, undefined, true],
      [false, { frames: 64, frameSize: 256 }, true],
      [true, { frames: 64, frameSize: 256 }, true],
    ] as const) {
      const worker = `
        const n = require(${JSON.stringify(addonPath)});
        const s = new n.PacketSocket('lo', 0x88b5, () => {}, () => {}, ${JSON.stringify(ring)});
        ${arp ? 's.setArpAnswers(Buffer.from([198, 51, 100, 10]), Buffer.alloc(0));' : ''}
        ${close ? 's.close();' : ''}
        setTimeout(() => process.exit(0), ${close ? 0 : 20});`;
      const main = `
        const { Worker } = require('node:worker_threads');
        new Worker(${JSON.stringify(worker)}, { eval: true }).on('exit', (c) => { console.log('worker exit', c); });`;
      const r = spawnSync(process.execPath, ['-e', main], { encoding: 'utf8' });
      assert.equal(
        r.signal,
        null,
        `close=${close} ring=${JSON.stringify(ring)} arp=${arp}: killed by ${r.signal}; ${r.stderr}`,
      );
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /worker exit 0/);
    }
  },
);

for (const ring of [true, false])
  test(
    `setArpAnswers (${ring ? 'ring' : 'recvfrom'}): ARP requests are answered while the JS thread is blocked (the answer thread does not wait for the event loop)`,
    { skip: root ? false : 'needs root (CAP_NET_RAW)', timeout: 60_000 },
    async () => {
      const { Worker } = await import('node:worker_threads');
      const addonPath = fileURLToPath(
        new URL('../../../native/build/Release/berth_native.node', import.meta.url),
      );
      const toJs: Buffer[] = [];
      const rx = openPacketSocket({
        ifname: 'lo',
        ethertype: 0x0806,
        ring: ring ? undefined : false,
        onFrame: (f) => void toJs.push(Buffer.from(f)),
      });
      // go: the worker may send; done: how many replies for 198.51.100.10 the worker has received.
      const shared = new Int32Array(new SharedArrayBuffer(8));
      const N = 50;
      // The requester: a worker thread with its own event loop and socket, sending N requests for 198.51.100.10
      // from 02:00:00:77:00:02 (its own, from-us copies on lo are skipped by oper) and counting the replies.
      const src = `
        const { workerData, parentPort } = require('node:worker_threads');
        const shared = workerData.shared;
        const n = require(workerData.addonPath);
        const sha = Buffer.from('020000770002', 'hex');
        let got = 0;
        const s = new n.PacketSocket('lo', 0x0806, (batch, ends) => {
          let start = 0;
          for (const end of ends) {
            const f = batch.subarray(start, end);
            start = end;
            if (f.length >= 42 && f.readUInt16BE(20) === 2 && f.subarray(32, 38).equals(sha) &&
                f.subarray(28, 32).equals(Buffer.from([198, 51, 100, 10]))) got++;
          }
          Atomics.store(shared, 1, got);
          if (got >= ${N}) { Atomics.notify(shared, 1); s.close(); }
        }, () => {});
        parentPort.postMessage('ready');
        Atomics.wait(shared, 0, 0, 30000);
        for (let i = 0; i < ${N}; i++) {
          const f = Buffer.alloc(42);
          f.fill(0xff, 0, 6); sha.copy(f, 6); f.writeUInt16BE(0x0806, 12);
          Buffer.from('0001080006040001', 'hex').copy(f, 14); sha.copy(f, 22);
          Buffer.from([192, 0, 2, 1 + (i % 200)]).copy(f, 28); Buffer.from([198, 51, 100, 10]).copy(f, 38);
          s.send(f);
        }`;
      const worker = new Worker(src, { eval: true, workerData: { shared, addonPath } });
      try {
        await new Promise<void>((resolve, reject) => {
          worker.once('message', () => resolve());
          worker.once('error', reject);
        });
        rx.setArpAnswers(['198.51.100.10'], ['198.51.100.10']);
        // Block this thread (its event loop with it) until the worker has every reply, or 20 s.
        Atomics.store(shared, 0, 1);
        Atomics.notify(shared, 0);
        let waited: string = 'ok';
        while (Atomics.load(shared, 1) < N && (waited = Atomics.wait(shared, 1, Atomics.load(shared, 1), 20_000)) !== 'timed-out');
        assert.equal(
          Atomics.load(shared, 1),
          N,
          `replies received while the JS thread was blocked (${waited}): the answer waited for the event loop`,
        );
        assert.equal(rx.stats().answeredNatively, N);
        const st = rx.takeArpAnswerStats();
        assert.equal(st.perIp.get('198.51.100.10')?.answered, N);
      } finally {
        await worker.terminate();
        rx.close();
      }
    },
  );

for (const variant of [
  { native: true, filter: false },
  { native: true, filter: true },
  { native: false, filter: true },
])
  test(
    `${variant.native ? 'setArpAnswers' : 'no native answers'}${variant.filter ? ' + arpFilter' : ''} on loopback: ${
      variant.native ? 'the addon answers exactly what the responder fast path answers, ' : ''
    }drops what it ignores, passes the rest to JS`,
    { skip: root ? false : 'needs root (CAP_NET_RAW)' },
    async () => {
      const { fastArpReply } = await import('../layer2/responder.ts');
      const { macToBuffer } = await import('../layer2/errors.ts');
      const { arpFrame } = await import('../layer2/responder.ts');
      const toJs: Buffer[] = [];
      const txSeen: Buffer[] = [];
      const rx = openPacketSocket({
        ifname: 'lo',
        ethertype: 0x0806,
        timestamps: true,
        onFrame: (f, meta) => {
          assert.ok(meta.rxMicros > 0, 'the kernel stamp reaches JS');
          toJs.push(Buffer.from(f));
        },
      });
      const tx = openPacketSocket({
        ifname: 'lo',
        ethertype: 0x0806,
        onFrame: (f) => void txSeen.push(Buffer.from(f)),
      });
      try {
        const announced = ['198.51.100.10', '198.51.100.11'];
        const watched = [...announced, '198.51.100.12', '203.0.113.7'];
        if (variant.native) rx.setArpAnswers(announced, watched);
        if (variant.filter) rx.attachFilter(arpFilter(rx.mac, watched)!);
        assert.throws(
          () => rx.setArpAnswers(['198.51.100.300'], []),
          /announced\[0\] "198.51.100.300" is not a dotted-quad/,
        );
        const state = { mac: rx.mac, announced: new Set(announced), watched: new Set(watched) };
        const req = (o: { tpa: string; spa?: string; sha?: string; dst?: string; op?: 1 | 2 }): Buffer =>
          arpFrame(o.dst ?? 'ff:ff:ff:ff:ff:ff', macToBuffer(o.sha ?? '02:00:00:77:00:01'), {
            operation: o.op ?? 1,
            senderHardwareAddress: o.sha ?? '02:00:00:77:00:01',
            senderProtocolAddress: o.spa ?? '192.0.2.1',
            targetHardwareAddress: '00:00:00:00:00:00',
            targetProtocolAddress: o.tpa,
          });
        const seeds = [
          req({ tpa: '198.51.100.10' }),
          req({ tpa: '198.51.100.11', dst: '00:00:00:00:00:00' }),
          req({ tpa: '198.51.100.12' }),
          req({ tpa: '192.0.2.99' }),
          req({ tpa: '198.51.100.10', spa: '0.0.0.0' }),
          req({ tpa: '198.51.100.10', spa: '203.0.113.7' }),
          req({ tpa: '198.51.100.10', op: 2 }),
          req({ tpa: '198.51.100.10', dst: '02:00:00:00:00:09' }),
        ];
        // Deterministic mutations of the first 42 bytes and lengths (a fixed LCG: reproducible, no dependency).
        let x = 12345;
        const rnd = (n: number): number => ((x = (x * 1103515245 + 12345) & 0x7fffffff), x % n);
        const frames: Buffer[] = [];
        for (let i = 0; i < 600; i++) {
          const f = Buffer.from(seeds[i % seeds.length]!);
          const edits = i < seeds.length ? 0 : rnd(3);
          for (let e = 0; e < edits; e++) f[rnd(42)] = [0, 1, 2, 6, 8, 0xff, rnd(256)][rnd(7)]!;
          frames.push(i % 50 === 49 ? f.subarray(0, 14 + rnd(28)) : f);
        }
        const replies: Buffer[] = [];
        const passed: Buffer[] = [];
        for (const f of frames) {
          if (f.readUInt16BE(12) !== 0x0806) continue; // never queued on an ARP socket
          const d = fastArpReply(f, state);
          if (d?.kind === 'reply' && variant.native) replies.push(d.frame);
          else if (d?.kind !== 'ignore') passed.push(f);
        }
        assert.ok(
          passed.length > 50 && (replies.length > 50 || !variant.native),
          `${replies.length} replies, ${passed.length} passed`,
        );
        assert.equal(tx.sendBatch(frames), frames.length);
        const hexes = (l: Buffer[]): string[] => l.map((b) => b.toString('hex'));
        // On loopback every socket bound to ARP sees every frame: tx sees its own requests besides rx's replies, and
        // rx's JS sees (as incoming copies) its own replies besides the frames passed to it. Each is taken out once.
        const without = (seen: Buffer[], out: Buffer[]): string[] => {
          const left = new Map<string, number>();
          for (const h of hexes(out)) left.set(h, (left.get(h) ?? 0) + 1);
          return hexes(seen).filter((h) => {
            const n = left.get(h) ?? 0;
            if (n > 0) left.set(h, n - 1);
            return n === 0;
          });
        };
        const deadline = Date.now() + 5000;
        while (
          Date.now() < deadline &&
          (without(txSeen, frames).length < replies.length || without(toJs, replies).length < passed.length)
        )
          await new Promise((r) => setTimeout(r, 20));
        await new Promise((r) => setTimeout(r, 100)); // anything extra
        assert.deepEqual(
          without(txSeen, frames),
          hexes(replies),
          'the same replies, byte for byte, in order',
        );
        assert.deepEqual(without(toJs, replies), hexes(passed), 'the rest reached JS, in order');
        const st = rx.takeArpAnswerStats();
        const want = new Map<string, number>();
        for (const f of replies)
          want.set(
            `${f[28]}.${f[29]}.${f[30]}.${f[31]}`,
            (want.get(`${f[28]}.${f[29]}.${f[30]}.${f[31]}`) ?? 0) + 1,
          );
        assert.deepEqual(
          new Map([...st.perIp].map(([ip, c]) => [ip, c.answered])),
          want,
          'counted per target IP',
        );
        const delays = rx.arpAnswerDelays();
        assert.equal(delays.count, replies.length, 'every answer timed from its kernel stamp');
        assert.throws(() => arpFilter(Buffer.alloc(5), []), /6-byte/);
        assert.throws(
          () => arpFilter(rx.mac, ['198.51.100.1', 'x']),
          /watched\[1\] "x" is not a dotted-quad/,
        );
        assert.equal(
          arpFilter(
            rx.mac,
            Array.from({ length: 1001 }, () => '198.51.100.1'),
          ),
          undefined,
        );
        assert.equal(
          delays.buckets.reduce((a, b) => a + b, 0),
          replies.length,
        );
        assert.equal(rx.stats().answeredNatively, replies.length);
        assert.equal(rx.takeArpAnswerStats().perIp.size, 0, 'taken once');
      } finally {
        rx.close();
        tx.close();
      }
    },
  );

test(
  'joinGroup: a group that is not IPv6 multicast is a TypeError naming it; leaveGroup of a group never joined is a no-op',
  { skip: root ? false : 'needs root (CAP_NET_RAW)' },
  () => {
    const s = openPacketSocket({ ifname: 'lo', ethertype: 0x86dd, onFrame: () => {} });
    try {
      assert.throws(
        () => s.joinGroup('2001:db8::1'),
        /2001:db8::1 is not an IPv6 multicast group \(ff00::\/8\)/,
      );
      assert.throws(() => s.joinGroup('ff02::1%lo'), /"ff02::1%lo" is not an IPv6 address \(without zone\)/);
      assert.throws(() => s.joinGroup('198.51.100.1'), TypeError);
      s.leaveGroup('ff02::1:ff00:1');
    } finally {
      s.close();
    }
    assert.throws(
      () => s.joinGroup('ff02::1:ff00:1'),
      (e: unknown) => e instanceof LinkError && e.code === 'EBADF',
    );
  },
);

/** RssAnon of this process in MiB (/proc/self/status). */
function rssAnonMiB(): number {
  const m = /^RssAnon:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

test('realtimeMicros reads CLOCK_REALTIME itself: never ahead of a later Date.now() millisecond nor behind an earlier one', () => {
  // Date.now() is CLOCK_REALTIME truncated to the millisecond. A clock fixed at start-up (performance.timeOrigin +
  // performance.now(), 22 µs to 0.3 ms off here) breaks one of the two orderings whenever a call falls that close to
  // a millisecond boundary, which 20,000 tries hit; the kernel's receive stamps are CLOCK_REALTIME, so the benches'
  // latency split at those stamps is only right with this clock.
  let violations = 0;
  let first = '';
  for (let i = 0; i < 20_000; i++) {
    const before = realtimeMicros();
    const ms = Date.now();
    const after = realtimeMicros();
    if (before > (ms + 1) * 1000 + 1 || after < ms * 1000 - 1) {
      violations++;
      first ||= `before ${before} µs, Date.now() ${ms} ms, after ${after} µs`;
    }
  }
  assert.equal(violations, 0, first);
});

test('mallocTrim: memory freed into the malloc arenas leaves the RSS; bad input is a RangeError', async () => {
  assert.throws(() => mallocTrim(-1), /minFreeBytes -1 is invalid: a number of bytes >= 0/);
  assert.throws(() => mallocTrim(Number.NaN), RangeError);
  assert.throws(() => startMallocTrim({ everyMs: 0 }), /everyMs 0 must be > 0/);
  const none = mallocTrim(Number.MAX_SAFE_INTEGER);
  assert.equal(none.trimmed, false, 'below the threshold: no trim');
  if (none.free < 0) {
    process.stdout.write('# skipped the RSS part: this C library has no mallinfo2/malloc_trim\n');
    return;
  }
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  // 1,600 buffers of 32 KiB (under glibc's mmap threshold: from the arena), every 8th kept, so the freed ones are
  // holes between live chunks that only malloc_trim (not the top-of-heap trim of free()) gives back.
  let bufs: Buffer[] | undefined = Array.from({ length: 1600 }, () => Buffer.allocUnsafeSlow(32 * 1024).fill(1));
  const kept = bufs.filter((_, i) => i % 8 === 7);
  bufs = undefined;
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 50));
  }
  const before = rssAnonMiB();
  const r = mallocTrim(1 << 20);
  const after = rssAnonMiB();
  assert.ok(r.free >= 30 * 1048576, `the arenas hold the freed ~44 MiB (free ${r.free} bytes)`);
  assert.equal(r.trimmed, true);
  assert.ok(before - after >= 20, `RssAnon ${before.toFixed(1)} → ${after.toFixed(1)} MiB: the holes went back to the kernel`);
  assert.equal(kept.length, 200);
  startMallocTrim({ everyMs: 60_000 })();
});
