// Reading Prometheus text exposition (a process's /metrics) in tests.

/** The value of the sample `series` (name plus labels exactly as exposed) in Prometheus text, undefined when absent. */
export function metricValue(text: string, series: string): number | undefined {
  for (const line of text.split('\n'))
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  return undefined;
}
