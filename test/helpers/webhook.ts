// The webhook's Service as the lab API server needs it to call a webhook process started by a test: kube-apiserver
// resolves a webhook configuration's clientConfig.service through the Service's EndpointSlices, so the slice points
// at 127.0.0.1 and the process's port (the Service's own port 443 / targetPort 9443 are the manifests').

/**
 * YAML of Service `berth-webhook-service` in `namespace` and EndpointSlice `berth-webhook-service-1` with one ready
 * endpoint 127.0.0.1:`port` (port name https, TCP): apply it with `kubectl apply -f -`.
 */
export function webhookServiceYaml(namespace: string, port: number): string {
  return `apiVersion: v1
kind: Service
metadata: {name: berth-webhook-service, namespace: ${namespace}}
spec:
  ports: [{name: https, port: 443, targetPort: 9443}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: berth-webhook-service-1
  namespace: ${namespace}
  labels: {kubernetes.io/service-name: berth-webhook-service}
addressType: IPv4
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
ports: [{name: https, port: ${port}, protocol: TCP}]
`;
}
