// berth's Grafana dashboard (issue 11): pool usage per pool, admission decisions and denials by reason, time to IP,
// the layer-2 owner of each IP and its failovers, BGP and BFD sessions. The source of
// gitops/base/monitoring/dashboards/berth.json (written by `npm run gen:dashboard`; dashboard.test.ts fails when the
// file drifts). Typed with Grafana's own dashboard schema types (@grafana/schema, the classic JSON model Grafana
// imports): tsc rejects a field the schema does not have or a value of the wrong shape. Every query is PromQL over
// the metric names of docs/metrics.md (MetalLB's where MetalLB has one); dashboard.test.ts parses each with promtool.
import type { Dashboard, Panel, RowPanel } from '@grafana/schema';

const DS = { type: 'prometheus', uid: '${datasource}' } as const;

interface Query {
  expr: string;
  legend: string;
  /** Table panels read the last value of each series. */
  instant?: boolean;
}

let nextId = 1;

function panel(
  type: 'timeseries' | 'stat' | 'table' | 'bargauge',
  title: string,
  description: string,
  gridPos: { x: number; y: number; w: number; h: number },
  queries: readonly Query[],
  unit?: string,
): Panel {
  return {
    id: nextId++,
    type,
    title,
    description,
    datasource: DS,
    gridPos,
    fieldConfig: { defaults: unit !== undefined ? { unit } : {}, overrides: [] },
    options: type === 'timeseries' ? { legend: { displayMode: 'table', placement: 'right', calcs: ['lastNotNull'] } } : {},
    targets: queries.map((q, i) => ({
      refId: String.fromCharCode(65 + i),
      datasource: DS,
      expr: q.expr,
      legendFormat: q.legend,
      ...(q.instant ? { instant: true, range: false, format: 'table' } : {}),
    })),
  };
}

function row(title: string, y: number): RowPanel {
  return { id: nextId++, type: 'row', title, collapsed: false, gridPos: { x: 0, y, w: 24, h: 1 }, panels: [] };
}

const POOL = 'pool=~"$pool"';

/** The dashboard (Grafana's classic JSON model, schemaVersion 39). */
export const dashboard: Dashboard = {
  uid: 'berth-overview',
  title: 'berth (MetalLB-compatible load balancer)',
  description: 'Pools, admission decisions, time to IP, layer-2 owners and failovers, BGP and BFD sessions. Metric names: docs/metrics.md.',
  tags: ['berth', 'metallb', 'loadbalancer'],
  editable: true,
  graphTooltip: 1,
  schemaVersion: 39,
  version: 1,
  refresh: '30s',
  time: { from: 'now-6h', to: 'now' },
  timezone: 'browser',
  templating: {
    list: [
      { name: 'datasource', label: 'Prometheus', type: 'datasource', query: 'prometheus' },
      {
        name: 'pool',
        label: 'Pool',
        type: 'query',
        datasource: DS,
        query: { query: 'label_values(metallb_allocator_addresses_total, pool)', refId: 'pools' },
        refresh: 2,
        includeAll: true,
        multi: true,
        allValue: '.*',
      },
    ],
  },
  annotations: { list: [] },
  panels: [
    row('Pools', 0),
    panel('bargauge', 'Pool usage', 'Addresses in use / usable addresses per pool (a shared IP counts once). MetalLBIPPoolExhausted fires above 90 %.', { x: 0, y: 1, w: 8, h: 8 }, [
      { expr: `metallb_allocator_addresses_in_use_total{${POOL}} / metallb_allocator_addresses_total{${POOL}}`, legend: '{{pool}}', instant: true },
    ], 'percentunit'),
    panel('timeseries', 'Addresses in use per pool and family', 'metallb_allocator_ipv4/ipv6_addresses_in_use_total.', { x: 8, y: 1, w: 8, h: 8 }, [
      { expr: `metallb_allocator_ipv4_addresses_in_use_total{${POOL}}`, legend: '{{pool}} IPv4' },
      { expr: `metallb_allocator_ipv6_addresses_in_use_total{${POOL}}`, legend: '{{pool}} IPv6' },
    ]),
    panel('timeseries', 'Claims held', 'IPAddressClaims per pool (berth\'s truth for who holds which IP).', { x: 16, y: 1, w: 8, h: 8 }, [
      { expr: `sum by (pool) (berth_claims_held{${POOL}})`, legend: '{{pool}}' },
    ]),
    row('Admission and allocation', 9),
    panel('timeseries', 'Admission decisions by result and reason', 'Webhook decisions per second: allowed, pending (admitted without an IP), denied (reason = problem code of docs/errors.md).', { x: 0, y: 10, w: 12, h: 8 }, [
      { expr: 'sum by (result, reason) (rate(berth_webhook_decisions_total[5m]))', legend: '{{result}} {{reason}}' },
    ], 'reqps'),
    panel('timeseries', 'Denials by reason', 'Requests refused at kubectl apply, by reason.', { x: 12, y: 10, w: 12, h: 8 }, [
      { expr: 'sum by (reason) (increase(berth_webhook_decisions_total{result="denied"}[1h]))', legend: '{{reason}}' },
    ]),
    panel('timeseries', 'Time to IP', 'From when the controller first saw a Service without an IP to the reconcile that gave it one (p50, p99).', { x: 0, y: 18, w: 8, h: 8 }, [
      { expr: 'histogram_quantile(0.5, sum by (le) (rate(berth_time_to_ip_seconds_bucket[5m])))', legend: 'p50' },
      { expr: 'histogram_quantile(0.99, sum by (le) (rate(berth_time_to_ip_seconds_bucket[5m])))', legend: 'p99' },
    ], 's'),
    panel('timeseries', 'Admission latency', 'Time to answer an admission review (p50, p99).', { x: 8, y: 18, w: 8, h: 8 }, [
      { expr: 'histogram_quantile(0.5, sum by (le) (rate(berth_webhook_request_duration_seconds_bucket[5m])))', legend: 'p50' },
      { expr: 'histogram_quantile(0.99, sum by (le) (rate(berth_webhook_request_duration_seconds_bucket[5m])))', legend: 'p99' },
    ], 's'),
    panel('timeseries', 'Controller updates and errors', 'Reconciles processed and failed (MetalLB names).', { x: 16, y: 18, w: 8, h: 8 }, [
      { expr: 'sum(rate(metallb_k8s_client_updates_total[5m]))', legend: 'updates' },
      { expr: 'sum(rate(metallb_k8s_client_update_errors_total[5m]))', legend: 'errors' },
    ], 'ops'),
    row('Layer 2', 26),
    panel('table', 'Layer-2 owner per IP', 'The node that answers ARP/NDP for each service IP (metallb_speaker_announced, protocol layer2).', { x: 0, y: 27, w: 12, h: 8 }, [
      { expr: 'max by (ip, service, node) (metallb_speaker_announced{protocol="layer2"})', legend: '{{ip}} {{node}}', instant: true },
    ]),
    panel('timeseries', 'Failovers', 'Owner changes per IP and the time from a peer\'s death/leave to the new owner\'s first gratuitous packet (p99).', { x: 12, y: 27, w: 12, h: 8 }, [
      { expr: 'sum(increase(berth_l2_owner_changes_total[5m]))', legend: 'owner changes' },
      { expr: 'histogram_quantile(0.99, sum by (le) (rate(berth_l2_failover_seconds_bucket[5m])))', legend: 'failover p99 (s)' },
    ]),
    panel('timeseries', 'ARP/NDP traffic', 'Requests received, responses and gratuitous packets sent (MetalLB names).', { x: 0, y: 35, w: 12, h: 8 }, [
      { expr: 'sum(rate(metallb_layer2_requests_received[5m]))', legend: 'requests' },
      { expr: 'sum(rate(metallb_layer2_responses_sent[5m]))', legend: 'responses' },
      { expr: 'sum(rate(metallb_layer2_gratuitous_sent[5m]))', legend: 'gratuitous' },
    ], 'pps'),
    panel('stat', 'IP conflicts', 'Service IPs another host also answers for: berth does not announce them (IPConflict events).', { x: 12, y: 35, w: 12, h: 8 }, [
      { expr: 'sum(berth_l2_ip_conflicts) or vector(0)', legend: 'conflicts' },
    ]),
    row('BGP and BFD', 43),
    panel('table', 'BGP sessions', 'metallb_bgp_session_up per speaker and peer (1 = Established).', { x: 0, y: 44, w: 8, h: 8 }, [
      { expr: 'max by (instance, peer) (metallb_bgp_session_up)', legend: '{{instance}} {{peer}}', instant: true },
    ]),
    panel('timeseries', 'BGP prefixes and updates', 'Announced prefixes per peer and UPDATE messages sent.', { x: 8, y: 44, w: 8, h: 8 }, [
      { expr: 'sum by (peer) (metallb_bgp_announced_prefixes_total)', legend: '{{peer}} prefixes' },
      { expr: 'sum by (peer) (rate(metallb_bgp_updates_total[5m]))', legend: '{{peer}} updates/s' },
    ]),
    panel('table', 'BFD sessions', 'metallb_bfd_session_up per speaker and peer (1 = Up).', { x: 16, y: 44, w: 8, h: 8 }, [
      { expr: 'max by (instance, peer) (metallb_bfd_session_up)', legend: '{{instance}} {{peer}}', instant: true },
    ]),
  ],
};

/** Every PromQL expression of the dashboard (the panels' targets), in panel order. */
export function dashboardQueries(d: Dashboard = dashboard): string[] {
  const out: string[] = [];
  for (const p of d.panels ?? []) {
    for (const t of ('targets' in p ? p.targets : undefined) ?? []) {
      const expr = (t as { expr?: unknown }).expr;
      if (typeof expr === 'string') out.push(expr);
    }
  }
  return out;
}

/** The JSON file's text (two-space indentation, trailing newline). */
export function dashboardJson(d: Dashboard = dashboard): string {
  return `${JSON.stringify(d, null, 2)}\n`;
}
