// Minimal Reflect metadata API (getMetadata / getOwnMetadata / defineMetadata / hasMetadata) for tsyringe,
// which @peculiar/x509 2.x needs but does not install (its README asks for `reflect-metadata`, not a dependency
// of this project). Installed only when no polyfill is present; metadata lives in a WeakMap per target.
type Key = string | symbol;
const store = new WeakMap<object, Map<Key | undefined, Map<unknown, unknown>>>();

function table(target: object, prop: Key | undefined, create: boolean): Map<unknown, unknown> | undefined {
  let byProp = store.get(target);
  if (!byProp) {
    if (!create) return undefined;
    byProp = new Map();
    store.set(target, byProp);
  }
  let t = byProp.get(prop);
  if (!t && create) {
    t = new Map();
    byProp.set(prop, t);
  }
  return t;
}

const R = Reflect as unknown as Record<string, unknown>;
if (typeof R['getMetadata'] !== 'function') {
  const getOwn = (k: unknown, target: object, prop?: Key) => table(target, prop, false)?.get(k);
  const get = (k: unknown, target: object, prop?: Key): unknown => {
    for (let o: object | null = target; o; o = Object.getPrototypeOf(o) as object | null) {
      const t = table(o, prop, false);
      if (t?.has(k)) return t.get(k);
    }
    return undefined;
  };
  R['getOwnMetadata'] = getOwn;
  R['getMetadata'] = get;
  R['hasMetadata'] = (k: unknown, target: object, prop?: Key) => get(k, target, prop) !== undefined;
  R['defineMetadata'] = (k: unknown, v: unknown, target: object, prop?: Key) => {
    table(target, prop, true)!.set(k, v);
  };
  R['metadata'] = (k: unknown, v: unknown) => (target: object, prop?: Key) => {
    table(target, prop, true)!.set(k, v);
  };
}

export {};
