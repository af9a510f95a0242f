// The kubeconfig the lab writes: context "berth-lab", CA embedded, bearer token.
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';

export function kubeconfigYaml(url: string, caPem: string, token: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    preferences: {},
    clusters: [{ name: 'berth-lab', cluster: { server: url, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
    users: [{ name: 'berth-lab-admin', user: { token } }],
    contexts: [{ name: 'berth-lab', context: { cluster: 'berth-lab', user: 'berth-lab-admin', namespace: 'default' } }],
    'current-context': 'berth-lab',
  });
}

export function writeKubeconfig(path: string, url: string, caPem: string, token: string): void {
  writeFileSync(path, kubeconfigYaml(url, caPem, token), { mode: 0o600 });
}
