/**
 * One copy of the strings that thousands of cached objects repeat. An informer parses every object
 * from its own JSON, so each cached projection holds its own copy of its namespace and instance id,
 * and the fields hash computed for it is a new string even when every instance of a template hashes
 * the same (managedFields list field paths, not values). With 10,000 instances that is tens of
 * thousands of equal strings. `intern` hands back the pool's copy, so equal values share one string.
 *
 * Only for values that repeat (namespaces, instance ids, hashes, components, the tenant baseline's
 * object names): a unique value (a resourceVersion, an instance object's name) would cost a pool entry
 * and share nothing; `shared` looks a value up without adding it. Bounded: past
 * `max` distinct values the pool starts over (the strings stay with the objects that hold them; later
 * values are shared again from then on), so values of deleted namespaces and instances cannot
 * accumulate without limit.
 */
export class StringPool {
  private readonly pool = new Map<string, string>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.pool.size;
  }

  intern(value: string): string {
    const pooled = this.pool.get(value);
    if (pooled !== undefined) return pooled;
    if (this.pool.size >= this.max) this.pool.clear();
    this.pool.set(value, value);
    return value;
  }

  /** The pool's copy of a value if it holds one, else the value itself: a lookup that adds nothing. */
  shared(value: string): string {
    return this.pool.get(value) ?? value;
  }

  /** `intern` for an optional value. */
  internOptional(value: string | undefined): string | undefined {
    return value === undefined ? undefined : this.intern(value);
  }
}

/**
 * The pool of the informers' caches (namespaces, instance ids, fields hashes): shared by every
 * informer, so a namespace is one string whichever kinds are cached. Sized for a fleet of ~50,000
 * instances and their tenants before it starts over.
 */
export const cachedMetadataStrings = new StringPool(100_000);
