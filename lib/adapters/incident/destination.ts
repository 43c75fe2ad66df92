// An incident service (PagerDuty, Teams, Jira, a webhook) as a dispatch Destination, so it runs
// on the same core as Slack (lib/stages/dispatch/): one incident per (destination, fingerprint),
// its identifier kept in the thread state in Redis, each step recorded before the next, HA
// duplicates and redeliveries posting nothing. These services keep no thread to edit: the
// root's re-render (updateRoot) sends nothing; the status steps (resolved, fired again) carry
// the change.
import type {
  Destination,
  MessageRef,
  PostOptions,
  RootView,
  StatusReplyKind,
} from '../../domain/destination.ts';
import type { FileBlock, Issue } from '../../domain/issue.ts';

export interface IncidentService {
  /** `<type>:<destination name>`: the state keys' destination id. */
  readonly id: string;
  /** Opens the incident; its identifier (Jira key, dedup key, webhook id) is stored, never searched for. */
  open(view: RootView): Promise<string>;
  /**
   * The incident `key` resolved or fired again. `step` is the thread step's id, the same on
   * every retry of that step (an idempotency key where the service takes one).
   */
  status(key: string, view: RootView, kind: StatusReplyKind, step: string): Promise<void>;
  /** Attaches the issue's files (logs) to the incident; services without it show them inline. */
  attach?(key: string, files: FileBlock[]): Promise<void>;
  /**
   * The incident an earlier `open` made for `fingerprint` since `since` (epoch seconds), for
   * the one case its identifier never reached Redis (the answer lost, the function killed); a
   * service whose opening is idempotent, or that cannot look, has none and opens again.
   */
  find?(fingerprint: string, since: number): Promise<string | undefined>;
}

/** The issue's own files (logs), non-empty ones. */
export const filesOf = (issue: Issue): FileBlock[] =>
  issue.enrichments.flatMap((e) =>
    e.blocks.filter((b): b is FileBlock => b.type === 'file' && b.content.length > 0),
  );

export class IncidentDestination implements Destination {
  readonly id: string;
  readonly #service: IncidentService;

  /** Only for a service that can look: the dispatcher then waits for it instead of opening again. */
  readonly findRoot?: (fingerprint: string, since: number) => Promise<MessageRef | undefined>;

  constructor(service: IncidentService) {
    this.id = service.id;
    this.#service = service;
    const find = service.find?.bind(service);
    if (find)
      this.findRoot = async (fingerprint, since) => {
        const key = await find(fingerprint, since);
        return key === undefined ? undefined : { channel: this.id, ts: key };
      };
  }

  async postRoot(view: RootView): Promise<MessageRef> {
    return { channel: this.id, ts: await this.#service.open(view) };
  }

  async updateRoot(): Promise<void> {}

  async postDetails(): Promise<void> {}

  async uploadFiles(ref: MessageRef, issue: Issue): Promise<void> {
    const files = filesOf(issue);
    if (files.length > 0) await this.#service.attach?.(ref.ts, files);
  }

  uploadCalls(issue: Issue): number {
    return this.#service.attach && filesOf(issue).length > 0 ? 1 : 0;
  }

  postStatusReply(ref: MessageRef, view: RootView, kind: StatusReplyKind, opts?: PostOptions): Promise<void> {
    return this.#service.status(ref.ts, view, kind, opts?.step ?? `${kind}:${view.firingSince}`);
  }
}
