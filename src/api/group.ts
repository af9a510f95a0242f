// MetalLB's API group. Every metallb.io CRD is namespaced and only read in the load balancer's own namespace
// (MetalLB internal/k8s/k8s.go restricts its cache by metadata.namespace).
export const METALLB_GROUP = 'metallb.io';
