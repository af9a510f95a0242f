// An ordered set of bigint values stored as maximal runs of consecutive values ([start, end], disjoint, never
// adjacent) in an AVL tree keyed by run start. It is what makes "lowest free address >= x" O(log n) instead of
// MetalLB's linear cursor walk (internal/allocator/allocator.go, getIPFromCIDR): because runs are maximal, the value
// right after the run that covers x is never a member.
//
// Pure data structure: no I/O, no globals. Values are whatever the caller counts in (the allocator uses "slots",
// see slots.ts, so that avoidBuggyIPs addresses are simply absent from the value space).

interface RunNode {
  start: bigint;
  end: bigint;
  left: RunNode | null;
  right: RunNode | null;
  height: number;
}

export class RunSet {
  #root: RunNode | null = null;
  #size = 0;
  #runs = 0;

  /** Number of members (not runs). */
  get size(): number {
    return this.#size;
  }

  /** Number of maximal runs (a measure of fragmentation; the tree holds one node per run). */
  get runCount(): number {
    return this.#runs;
  }

  /** Height of the tree (tests check it stays logarithmic in runCount). */
  get depth(): number {
    return h(this.#root);
  }

  has(v: bigint): boolean {
    const r = this.#floor(v);
    return r !== null && r.end >= v;
  }

  /** Adds v; false when it was already a member. O(log runs). */
  add(v: bigint): boolean {
    const { before, after } = this.#neighbours(v);
    if (before !== null && before.end >= v) return false;
    const joinLeft = before !== null && before.end + 1n === v;
    const joinRight = after !== null && after.start === v + 1n;
    if (joinLeft && joinRight) {
      // v fills the gap between two runs: extend the left one over the right one, drop the right node.
      before.end = after.end;
      this.#root = remove(this.#root, after.start);
      this.#runs--;
    } else if (joinLeft) {
      before.end = v;
    } else if (joinRight) {
      // Order-preserving key change: no run starts in (before.end, v], so the tree stays sorted.
      after.start = v;
    } else {
      this.#root = insert(this.#root, v, v);
      this.#runs++;
    }
    this.#size++;
    return true;
  }

  /** Removes v; false when it was not a member. O(log runs). */
  delete(v: bigint): boolean {
    const r = this.#floor(v);
    if (r === null || r.end < v) return false;
    if (r.start === v && r.end === v) {
      this.#root = remove(this.#root, v);
      this.#runs--;
    } else if (r.start === v) {
      r.start = v + 1n; // order-preserving: the next run starts after r.end + 1
    } else if (r.end === v) {
      r.end = v - 1n;
    } else {
      const tail = r.end;
      r.end = v - 1n;
      this.#root = insert(this.#root, v + 1n, tail);
      this.#runs++;
    }
    this.#size--;
    return true;
  }

  /** The lowest value >= from that is NOT a member. O(log runs). */
  lowestAbsent(from: bigint): bigint {
    const r = this.#floor(from);
    return r !== null && r.end >= from ? r.end + 1n : from;
  }

  /** The lowest member >= v, or undefined. O(log runs). */
  ceil(v: bigint): bigint | undefined {
    const r = this.#floor(v);
    if (r !== null && r.end >= v) return v;
    return this.#higher(v)?.start;
  }

  /** Members in ascending order (for tests and rebuilds; materialises the set). */
  *values(): Generator<bigint> {
    const stack: RunNode[] = [];
    let cur = this.#root;
    while (cur !== null || stack.length > 0) {
      while (cur !== null) {
        stack.push(cur);
        cur = cur.left;
      }
      const n = stack.pop()!;
      for (let v = n.start; v <= n.end; v++) yield v;
      cur = n.right;
    }
  }

  /** In one descent: the run with the greatest start <= v, and the run with the smallest start > v. */
  #neighbours(v: bigint): { before: RunNode | null; after: RunNode | null } {
    let before: RunNode | null = null;
    let after: RunNode | null = null;
    let cur = this.#root;
    while (cur !== null) {
      if (cur.start <= v) {
        before = cur;
        cur = cur.right;
      } else {
        after = cur;
        cur = cur.left;
      }
    }
    return { before, after };
  }

  /** The run with the greatest start <= v. */
  #floor(v: bigint): RunNode | null {
    let cur = this.#root;
    let best: RunNode | null = null;
    while (cur !== null) {
      if (cur.start <= v) {
        best = cur;
        cur = cur.right;
      } else {
        cur = cur.left;
      }
    }
    return best;
  }

  /** The run with the smallest start > v. */
  #higher(v: bigint): RunNode | null {
    let cur = this.#root;
    let best: RunNode | null = null;
    while (cur !== null) {
      if (cur.start > v) {
        best = cur;
        cur = cur.left;
      } else {
        cur = cur.right;
      }
    }
    return best;
  }
}

// --- AVL primitives (recursive; depth is ~1.44·log2(runs), so at most a few dozen frames) ---

function h(n: RunNode | null): number {
  return n === null ? 0 : n.height;
}

function fix(n: RunNode): void {
  n.height = Math.max(h(n.left), h(n.right)) + 1;
}

function rotateRight(n: RunNode): RunNode {
  const l = n.left!;
  n.left = l.right;
  l.right = n;
  fix(n);
  fix(l);
  return l;
}

function rotateLeft(n: RunNode): RunNode {
  const r = n.right!;
  n.right = r.left;
  r.left = n;
  fix(n);
  fix(r);
  return r;
}

function balance(n: RunNode): RunNode {
  fix(n);
  const bf = h(n.left) - h(n.right);
  if (bf > 1) {
    if (h(n.left!.left) < h(n.left!.right)) n.left = rotateLeft(n.left!);
    return rotateRight(n);
  }
  if (bf < -1) {
    if (h(n.right!.right) < h(n.right!.left)) n.right = rotateRight(n.right!);
    return rotateLeft(n);
  }
  return n;
}

function insert(n: RunNode | null, start: bigint, end: bigint): RunNode {
  if (n === null) return { start, end, left: null, right: null, height: 1 };
  if (start < n.start) n.left = insert(n.left, start, end);
  else n.right = insert(n.right, start, end);
  return balance(n);
}

function removeMin(n: RunNode): { rest: RunNode | null; min: RunNode } {
  if (n.left === null) return { rest: n.right, min: n };
  const r = removeMin(n.left);
  n.left = r.rest;
  return { rest: balance(n), min: r.min };
}

function remove(n: RunNode | null, start: bigint): RunNode | null {
  if (n === null) return null;
  if (start < n.start) {
    n.left = remove(n.left, start);
  } else if (start > n.start) {
    n.right = remove(n.right, start);
  } else {
    if (n.left === null) return n.right;
    if (n.right === null) return n.left;
    // Replace n by its successor node itself (not by copying fields), so outside references to other nodes stay
    // valid while a caller holds them.
    const { rest, min } = removeMin(n.right);
    min.left = n.left;
    min.right = rest;
    return balance(min);
  }
  return balance(n);
}
