// The lab stack (API server + webhook + controller, src/cli/lab.ts startLabStack) in a temp dir, for e2e tests that
// run it once per file in before/after hooks.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLabStack, type LabStack } from '../../src/cli/lab.ts';
import type { NodeProcess } from '../../src/lab/processes.ts';

/** Makes a temp dir `<tmp>/<dirPrefix>XXXXXX` and starts the lab stack in its `lab` subfolder. */
export async function startLabStackInTempDir(dirPrefix: string): Promise<{ dir: string; stack: LabStack }> {
  const dir = mkdtempSync(join(tmpdir(), dirPrefix));
  return { dir, stack: await startLabStack({ dir: join(dir, 'lab') }) };
}

/** Stops (in order) the test's speaker with SIGTERM, the lab stack, then removes the temp dir; each part optional. */
export async function stopLabStackInTempDir(o: { speaker?: NodeProcess | undefined; stack?: LabStack | undefined; dir?: string }): Promise<void> {
  await o.speaker?.stop('SIGTERM');
  await o.stack?.stop();
  if (o.dir) rmSync(o.dir, { recursive: true, force: true });
}

/**
 * YAML of an EndpointSlice `<service>-1` in namespace default with one ready endpoint (203.0.113.5, port 8080) on
 * `node`: for a Service without selector, which the lab's EndpointSlice controller leaves alone.
 */
export const readyEndpointSlice = (service: string, node: string): string => `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${service}-1
  namespace: default
  labels: {kubernetes.io/service-name: ${service}}
addressType: IPv4
endpoints: [{addresses: [203.0.113.5], nodeName: ${node}, conditions: {ready: true}}]
ports: [{name: http, port: 8080, protocol: TCP}]
`;
