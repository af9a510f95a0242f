// The lab survives SIGKILL without losing an acknowledged write (issue 12: outages tested as crashes): the lab runs
// as a child process with --persist; writes go over HTTPS, many in flight at once; the moment the last of N is
// acknowledged the lab gets SIGKILL (others still in flight), then it restarts on the same folder AND the same
// port (what the chaos suite does to simulate an API-server outage). Every acknowledged create, update and delete
// is there with its resourceVersion, and new writes get larger resourceVersions (also through the real kubectl).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { Agent, request } from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { spawnNode, type NodeProcess } from '../../src/lab/processes.ts';
import { findKubectl } from '../../src/lab/testing.ts';

const LAB_MAIN = new URL('../../src/lab/main.ts', import.meta.url).pathname;
const N = 400;
const IN_FLIGHT = 8;

interface Answer {
  status: number;
  body: { metadata?: { resourceVersion?: string; name?: string }; items?: Array<{ metadata: { name: string; resourceVersion: string }; data?: Record<string, string> }> };
}

function client(dir: string, port: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT * 2, ca: readFileSync(join(dir, 'ca.crt')) });
  const token = readFileSync(join(dir, 'token'), 'utf8').trim();
  const call = (method: string, path: string, body?: unknown): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        { host: '127.0.0.1', port, path, method, agent, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json' } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Answer['body']) : {} }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  return { call, close: () => agent.destroy() };
}

async function startLab(dir: string, port: number): Promise<{ lab: NodeProcess; port: number }> {
  const lab = spawnNode(LAB_MAIN, ['--dir', dir, '--persist', '--port', String(port)]);
  const m = await Promise.race([lab.waitFor(/lab: serving https:\/\/127\.0\.0\.1:(\d+) /, 60_000), lab.done.then((code) => ({ code }))]);
  if ('code' in m) throw new Error(`lab exited with ${String(m.code)}:\n${lab.output()}`);
  return { lab, port: Number(m[1]) };
}

const cm = (name: string, value: string, rv?: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'default', ...(rv ? { resourceVersion: rv } : {}) },
  data: { v: value },
});

test('SIGKILL right after the last acknowledged write loses none; restart on the same port continues resourceVersions', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-lab-kill-'));
  let lab: NodeProcess | undefined;
  try {
    const first = await startLab(dir, 0);
    lab = first.lab;
    const port = first.port;
    const api = client(dir, port);
    const base = '/api/v1/namespaces/default/configmaps';
    // Each worker owns its names (no two writers race on one), creating, updating and deleting them in turn.
    // Acknowledged outcome per name: present with this value and resourceVersion, or deleted.
    const acked = new Map<string, { value: string; rv: number } | 'deleted'>();
    const inFlight = new Set<string>();
    const unexpected: string[] = [];
    let done = 0;
    let maxRv = 0;
    let uncertain = new Set<string>();
    const killed = new Promise<void>((resolveKilled) => {
      const worker = async (w: number): Promise<void> => {
        for (let k = 0; done < N; k++) {
          const name = `cm-${w}-${k % 25}`;
          const prev = acked.get(name);
          const op = prev === undefined || prev === 'deleted' ? 'create' : k % 3 === 0 ? 'delete' : 'update';
          const value = `v${w}-${k}`;
          inFlight.add(name);
          let r: Answer;
          try {
            if (op === 'create') r = await api.call('POST', base, cm(name, value));
            else if (op === 'delete') r = await api.call('DELETE', `${base}/${name}`);
            else r = await api.call('PUT', `${base}/${name}`, cm(name, value, String((prev as { rv: number }).rv)));
          } catch {
            return; // the lab is gone
          }
          if (done >= N) return; // answered after the kill: not counted
          inFlight.delete(name);
          if (r.status !== 200 && r.status !== 201) {
            unexpected.push(`${op} ${name}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
            continue;
          }
          if (op === 'delete') acked.set(name, 'deleted');
          else {
            const rv = Number(r.body.metadata?.resourceVersion);
            maxRv = Math.max(maxRv, rv);
            acked.set(name, { value, rv });
          }
          if (++done === N) {
            process.kill(lab!.pid, 'SIGKILL');
            uncertain = new Set(inFlight); // sent, not answered: may or may not have happened
            resolveKilled();
            return;
          }
        }
      };
      for (let w = 0; w < IN_FLIGHT; w++) void worker(w);
    });
    await killed;
    assert.equal(await lab.done, 137, 'killed by SIGKILL (spawnNode reports 128 + 9)');
    assert.equal(lab.exitSignal, 'SIGKILL');
    api.close();
    assert.deepEqual(unexpected, []);

    // Same folder, same port, at once.
    const second = await startLab(dir, port);
    lab = second.lab;
    assert.equal(second.port, port);
    const api2 = client(dir, port);
    const list = await api2.call('GET', base);
    assert.equal(list.status, 200);
    const stored = new Map((list.body.items ?? []).map((o) => [o.metadata.name, o]));
    let checked = 0;
    for (const [name, want] of acked) {
      if (uncertain.has(name)) continue;
      const got = stored.get(name);
      if (want === 'deleted') assert.equal(got, undefined, `${name}: its delete was acknowledged`);
      else {
        assert.ok(got, `${name} (acknowledged at resourceVersion ${want.rv}) is missing after SIGKILL`);
        assert.equal(got.metadata.resourceVersion, String(want.rv), name);
        assert.equal(got.data?.['v'], want.value, name);
      }
      checked++;
    }
    assert.ok(checked >= 8 * 25 - IN_FLIGHT, `checked ${checked} names`);
    const after = await api2.call('POST', base, cm('after-restart', 'x'));
    assert.equal(after.status, 201);
    assert.ok(Number(after.body.metadata?.resourceVersion) > maxRv, `new write at ${after.body.metadata?.resourceVersion} after ${maxRv}`);
    api2.close();

    const kubectl = findKubectl();
    if (kubectl) {
      const out = await new Promise<string>((resolve, reject) =>
        execFile(
          kubectl,
          [`--kubeconfig=${join(dir, 'kubeconfig')}`, `--cache-dir=${join(dir, 'kcache')}`, 'create', 'configmap', 'by-kubectl', '-o', 'jsonpath={.metadata.resourceVersion}'],
          { timeout: 30_000 },
          (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(String(stdout))),
        ),
      );
      assert.ok(Number(out) > Number(after.body.metadata?.resourceVersion), `kubectl create at ${out}`);
    }
    void lab.stop('SIGTERM', 10_000);
    assert.equal(await lab.done, 0);
  } finally {
    if (lab && !lab.exited) await lab.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
