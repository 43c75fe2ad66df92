// enrich-pod for a PersistentVolumeClaim subject: the claim, its Events, its StorageClass while it
// is Pending, and the pods of its namespace that use it (listed page by page, matched by volume).
import { claimTable, claimUsersTable, claimVerdict, usesClaim } from '../../domain/diagnose/claim.ts';
import { eventsTable, failureNote, noteBlock } from '../../domain/diagnose/describe.ts';
import type { Block } from '../../domain/issue.ts';
import { isKubeApiError } from '../../domain/kube-errors.ts';
import type { EnrichResult } from '../../domain/routing.ts';
import { attempt } from './budget.ts';
import { type Ctx, listObjectEvents, SOURCE } from './investigate.ts';
import { collectPages } from './pages.ts';

export async function enrichClaim(
  ctx: Ctx,
  namespace: string,
  name: string,
  title: string,
): Promise<EnrichResult> {
  const [pvcR, eventsR, podsR] = await Promise.all([
    attempt(ctx.budget.run((signal) => ctx.kube.readPersistentVolumeClaim(namespace, name, { signal }))),
    listObjectEvents(ctx, namespace, 'PersistentVolumeClaim', name),
    // No field selector matches a pod's volumes: the namespace's pods are read and matched here.
    attempt(collectPages(ctx.budget, (o) => ctx.kube.listPods(namespace, '', o), ctx.opts.podLimit ?? 500)),
  ]);
  const notes: string[] = [];
  if (!eventsR.ok) notes.push(failureNote('list events', eventsR.error));
  if (!podsR.ok) notes.push(failureNote('list the pods of the namespace', podsR.error));
  else if (!podsR.value.complete)
    notes.push(`Only the first ${podsR.value.items.length} pods of the namespace were read.`);
  const events = eventsR.ok ? eventsR.value.items : [];
  const own = eventsTable(events, ctx.now, ctx.opts.eventLimit ?? 10);
  if (!pvcR.ok) {
    notes.push(failureNote('read the PersistentVolumeClaim', pvcR.error));
    const blocks: Block[] = [...(own ? [own] : []), ...noteBlock(notes)];
    const gone = isKubeApiError(pvcR.error) && pvcR.error.code === 404;
    const verdict = `PersistentVolumeClaim ${namespace}/${name} not found: it was deleted`;
    return {
      enrichment: gone ? { source: SOURCE, title, verdict, blocks } : { source: SOURCE, title, blocks },
    };
  }
  const pvc = pvcR.value;
  const cls = pvc.spec?.storageClassName;
  let storageClass: 'found' | 'missing' | undefined;
  if (pvc.status?.phase === 'Pending' && cls) {
    const r = await attempt(ctx.budget.run((signal) => ctx.kube.readStorageClass(cls, { signal })));
    if (r.ok) storageClass = 'found';
    else if (isKubeApiError(r.error) && r.error.code === 404) storageClass = 'missing';
    else notes.push(failureNote(`read StorageClass ${cls}`, r.error));
  }
  const users = podsR.ok ? podsR.value.items.filter((p) => usesClaim(p, name)) : [];
  const facts = { pvc, events, storageClass, users, now: ctx.now };
  const blocks: Block[] = [claimTable(facts)];
  if (users.length) blocks.push(claimUsersTable(users));
  if (own) blocks.push(own);
  blocks.push(...noteBlock(notes));
  return { enrichment: { source: SOURCE, title, verdict: claimVerdict(facts), blocks } };
}
