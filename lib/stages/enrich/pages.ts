// Lists read page by page (limit + continue) up to a cap, under the time budget: a namespace with
// ten thousand objects costs a few bounded requests, never one unbounded answer.
import type { ListOptions, Page } from '../../domain/kube.ts';
import type { Budget } from './budget.ts';

export interface Collected<T> {
  items: T[];
  /** False when the cap was reached or a later page failed: what is here is a part. */
  complete: boolean;
  /** A later page's failure; the first page's failure rejects instead. */
  error?: unknown;
}

export const DEFAULT_PAGE_SIZE = 250;

export async function collectPages<T>(
  budget: Budget,
  fetchPage: (o: ListOptions & { signal: AbortSignal }) => Promise<Page<T>>,
  cap: number,
  pageSize = DEFAULT_PAGE_SIZE,
): Promise<Collected<T>> {
  const items: T[] = [];
  let token: string | undefined;
  for (;;) {
    const limit = Math.max(1, Math.min(pageSize, cap - items.length));
    let page: Page<T>;
    try {
      page = await budget.run((signal) =>
        fetchPage({ limit, signal, ...(token === undefined ? {} : { continue: token }) }),
      );
    } catch (error) {
      if (items.length === 0) throw error;
      return { items, complete: false, error };
    }
    items.push(...page.items);
    token = page.continue;
    if (!page.more || token === undefined) return { items, complete: true };
    if (items.length >= cap) return { items, complete: false };
  }
}
