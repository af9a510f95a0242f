// MetalLB's Kubernetes-client metrics (internal/k8s/controllers/stats.go), shared by the controller and the webhook:
// writes done and failed, and whether the configuration was loaded and is stale (invalid, last good one kept).
import { Counter, Gauge, type Registry } from 'prom-client';

export interface ClientMetrics {
  /** One API write (status, annotation, claim, pool status...) attempted; `ok` false counts an error too. */
  update(ok: boolean): void;
  configLoaded(loaded: boolean): void;
  configStale(stale: boolean): void;
}

export function clientMetrics(registry: Registry): ClientMetrics {
  const updates = new Counter({
    name: 'metallb_k8s_client_updates_total',
    help: 'Number of k8s object updates that have been processed.',
    registers: [registry],
  });
  const errors = new Counter({
    name: 'metallb_k8s_client_update_errors_total',
    help: 'Number of k8s object updates that failed for some reason.',
    registers: [registry],
  });
  const loaded = new Gauge({
    name: 'metallb_k8s_client_config_loaded_bool',
    help: '1 if the configuration was loaded at least once.',
    registers: [registry],
  });
  const stale = new Gauge({
    name: 'metallb_k8s_client_config_stale_bool',
    help: '1 if running on a stale configuration, because the latest config failed to load.',
    registers: [registry],
  });
  loaded.set(0);
  stale.set(0);
  return {
    update(ok) {
      updates.inc();
      if (!ok) errors.inc();
    },
    configLoaded(v) {
      loaded.set(v ? 1 : 0);
    },
    configStale(v) {
      stale.set(v ? 1 : 0);
    },
  };
}
