// String interning for cached objects. JSON.parse gives every string value its own copy, so 10,000 cached Services
// hold 10,000 copies of "LoadBalancer", "SingleStack", their namespace, "TCP"... Interning the low-cardinality fields
// (never uids or names) makes them share one copy. Bounded: past `max` distinct values it stops remembering.
export type Intern = (s: string) => string;

export function interner(max = 10_000): Intern {
  const seen = new Map<string, string>();
  return (s) => {
    const hit = seen.get(s);
    if (hit !== undefined) return hit;
    if (seen.size < max) seen.set(s, s);
    return s;
  };
}
