// A delivery's hold on one thread: the lock the thread repository's open took, every fenced
// write under it, and its end. When the delivery ends without having given the lock back, an
// attempt it wrote (a root about to be posted) is taken back if nothing was posted, else the
// lock is simply released.
import type { Lock } from '../../domain/state-store.ts';
import { UnavailableError } from '../../platform/errors.ts';
import type { Delivery } from './context.ts';

export class ThreadSession {
  readonly #d: Delivery;
  readonly lock: Lock;
  #released = false;
  /** The key holds an attempt this delivery wrote or inherited and may take back. */
  attemptHeld: boolean;
  /** A root (or linked message) post is under way or landed: its attempt must stay. */
  posting = false;

  constructor(d: Delivery, lock: Lock, attempted: boolean) {
    this.#d = d;
    this.lock = lock;
    this.attemptHeld = attempted;
  }

  get released(): boolean {
    return this.#released;
  }

  /** Writes the key under the lock and renews it; throws when the lock was lost. */
  async put(value: string): Promise<void> {
    const { store, keys, stateTtlSeconds } = this.#d;
    // The lock expired mid-delivery and someone else may hold the thread now: writing would
    // overwrite newer state. A redelivery sees whatever that holder recorded.
    if (!(await store.putLocked(this.lock, keys.data, value, stateTtlSeconds)))
      throw new UnavailableError('lost the thread lock during dispatch');
  }

  /** Writes the key and gives the lock back in one round trip; throws when the lock was lost. */
  async putAndRelease(value: string, what: string): Promise<void> {
    const { store, keys, stateTtlSeconds } = this.#d;
    const ok = await store.putAndUnlock(this.lock, keys.data, value, stateTtlSeconds);
    this.#released = true;
    if (!ok) throw new UnavailableError(`lost the thread lock before ${what} was recorded`);
  }

  /** putAndRelease that only logs a failure: for a record whose loss costs a lookup, not a post. */
  async putAndReleaseQuietly(value: string, what: string): Promise<void> {
    try {
      await this.putAndRelease(value, what);
    } catch (err) {
      this.#d.log?.warn({ err, key: this.#d.keys.data }, `could not record ${what}`);
    }
  }

  /** Ends the hold: takes back an attempt whose post never started, else releases the lock. */
  async end(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    const { store, keys, log } = this.#d;
    try {
      if (this.attemptHeld && !this.posting) await store.dropAndUnlock(this.lock, keys.data);
      else await store.unlock(this.lock);
    } catch (err) {
      // The lock expires by itself; failing here would turn a finished delivery into a retry.
      // An attempt left behind makes the redelivery look for a root first.
      log?.warn({ err, key: keys.lock }, 'could not end the hold on the thread');
    }
  }
}
