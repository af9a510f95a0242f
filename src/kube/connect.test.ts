import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { backoffDelay, connectWithRetry, retryWithBackoff } from './connect.ts';

describe('retryWithBackoff', () => {
  it('retries until success with capped exponential delays, one log line per failure', async () => {
    const slept: number[] = [];
    const lines: string[] = [];
    let n = 0;
    const v = await retryWithBackoff(
      'reading Secret metallb-system/berth-webhook-cert',
      async () => {
        if (++n < 8) throw new Error('connect ECONNREFUSED 127.0.0.1:6443');
        return 'done';
      },
      { sleep: async (ms) => void slept.push(ms), log: (l) => lines.push(l), initialMs: 500, maxMs: 8000 },
    );
    assert.equal(v, 'done');
    assert.deepEqual(slept, [500, 1000, 2000, 4000, 8000, 8000, 8000]);
    assert.equal(lines.length, 7);
    assert.equal(lines[0], 'reading Secret metallb-system/berth-webhook-cert failed: connect ECONNREFUSED 127.0.0.1:6443; retrying in 500 ms');
  });

  it('stops (rejects) only when its signal aborts', async () => {
    const ac = new AbortController();
    let n = 0;
    const p = retryWithBackoff(
      'x',
      async () => {
        if (++n === 3) ac.abort(new Error('stopping'));
        throw new Error('down');
      },
      { sleep: async () => undefined, signal: ac.signal },
    );
    await assert.rejects(p, /stopping/);
    assert.equal(n, 3);
  });

  it('backoffDelay: 500 ms doubling, capped at 30 s by default', () => {
    assert.deepEqual([0, 1, 2, 5, 6, 7, 100].map((a) => backoffDelay(a)), [500, 1000, 2000, 16_000, 30_000, 30_000, 30_000]);
  });
});

describe('connectWithRetry', () => {
  it('waits for a kubeconfig that is not written yet', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-connect-'));
    const path = join(dir, 'kubeconfig');
    const lines: string[] = [];
    try {
      const kube = await connectWithRetry(
        { kubeconfig: path, env: {} },
        {
          log: (l) => lines.push(l),
          sleep: async () => {
            if (lines.length === 2) {
              writeFileSync(
                path,
                [
                  'apiVersion: v1',
                  'kind: Config',
                  'clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]',
                  'users: [{name: u, user: {token: t}}]',
                  'contexts: [{name: x, context: {cluster: c, user: u}}]',
                  'current-context: x',
                ].join('\n'),
              );
            }
          },
        },
      );
      assert.equal(kube.access.server, 'https://127.0.0.1:1');
      assert.equal(lines.length, 2);
      assert.match(lines[0]!, /^loading the kubeconfig failed: .*kubeconfig.*; retrying in 500 ms$/);
      kube.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
