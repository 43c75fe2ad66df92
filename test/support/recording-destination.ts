// A Destination that records every call instead of talking to Slack: the dispatcher's tests and
// dry runs use it. It can fail a chosen call once, or hold one until released, to replay
// partial failures and races deterministically.
import type {
  ChannelBucket,
  Destination,
  MessageRef,
  PostOptions,
  RootView,
  StatusReplyKind,
  SummaryDestination,
  SummaryLine,
  SummaryView,
} from '../../lib/domain/destination.ts';
import type { Issue } from '../../lib/domain/issue.ts';
import { UnavailableError } from '../../lib/platform/errors.ts';

export type DestinationMethod =
  | 'postRoot'
  | 'postLinked'
  | 'updateRoot'
  | 'postDetails'
  | 'uploadFiles'
  | 'postStatusReply'
  | 'postSummary'
  | 'updateSummary'
  | 'postSummaryLines';

export interface RecordedCall {
  method: DestinationMethod;
  /** The thread the call went to; for postRoot, the ref it returned. */
  ref: MessageRef;
  issueId: string;
  fingerprint?: string;
  view?: RootView;
  kind?: StatusReplyKind;
  summary?: SummaryView;
  lines?: SummaryLine[];
  asFile?: boolean;
  /** The thread step a reply said it is (PostOptions.step), for findReply. */
  step?: string;
}

export interface Hold {
  /** Resolves when the held call has been entered. */
  reached: Promise<void>;
  release(): void;
}

export class RecordingDestination implements Destination, SummaryDestination {
  readonly id: string;
  readonly channel: string;
  /** Like SlackDestination's: taken before every call, so tests see the channel's pace. */
  bucket: ChannelBucket | undefined;
  readonly calls: RecordedCall[] = [];
  readonly #failures = new Map<DestinationMethod, Error>();
  readonly #failuresAfter = new Map<DestinationMethod, Error>();
  readonly #holds = new Map<DestinationMethod, { enter(): void; gate: Promise<void> }>();
  #seq = 0;

  /** Copies of what each call showed; off where only the calls matter (benchmarks). */
  readonly #keep: boolean;

  constructor(channel = 'C0TESTCHAN', opts: { keepViews?: boolean } = {}) {
    this.#keep = opts.keepViews ?? true;
    this.channel = channel;
    this.id = `slack:${channel}`;
  }

  /** The next call of `method` throws `err` (by default a retryable UnavailableError), then it recovers. */
  failNext(method: DestinationMethod, err: Error = new UnavailableError(`${method} failed (test)`)): void {
    this.#failures.set(method, err);
  }

  /**
   * The next call of `method` takes effect (is recorded) and then throws `err`: the answer of a
   * Slack call that timed out after Slack had done it.
   */
  failAfterNext(
    method: DestinationMethod,
    err: Error = new UnavailableError(`${method} answer lost (test)`, { maybeApplied: true }),
  ): void {
    this.#failuresAfter.set(method, err);
  }

  async findRoot(fingerprint: string, _since: number): Promise<MessageRef | undefined> {
    const c = this.calls.find((x) => x.method === 'postRoot' && x.fingerprint === fingerprint);
    return c?.ref;
  }

  async findReply(ref: MessageRef, fingerprint: string, step: string, _since: number): Promise<boolean> {
    const thread = ref.threadTs ?? ref.ts;
    return this.calls.some(
      (c) =>
        c.step === step &&
        c.fingerprint === fingerprint &&
        c.ref.channel === ref.channel &&
        (c.ref.threadTs ?? c.ref.ts) === thread,
    );
  }

  /** The next call of `method` waits until released. */
  hold(method: DestinationMethod): Hold {
    let enter = () => {};
    let release = () => {};
    const reached = new Promise<void>((r) => {
      enter = r;
    });
    const gate = new Promise<void>((r) => {
      release = r;
    });
    this.#holds.set(method, { enter, gate });
    return { reached, release };
  }

  callsOf(method: DestinationMethod): RecordedCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Like SlackDestination's: the bucket, so a dispatcher can take a root's token ahead. */
  get pace(): { bucket: ChannelBucket; channel: string } | undefined {
    return this.bucket ? { bucket: this.bucket, channel: this.channel } : undefined;
  }

  async postRoot(view: RootView, opts?: PostOptions): Promise<MessageRef> {
    await this.#enter('postRoot', opts?.tokenTaken);
    this.#seq += 1;
    const ref = { channel: this.channel, ts: `1700000000.${String(this.#seq).padStart(6, '0')}` };
    this.calls.push({
      method: 'postRoot',
      ref,
      issueId: view.issue.id,
      fingerprint: view.issue.fingerprint,
      view: this.#copy(view),
    });
    this.#after('postRoot');
    return ref;
  }

  async postLinked(thread: MessageRef, view: RootView, opts?: PostOptions): Promise<MessageRef> {
    await this.#enter('postLinked', opts?.tokenTaken);
    this.#seq += 1;
    const ref = {
      channel: thread.channel,
      ts: `1700000000.${String(this.#seq).padStart(6, '0')}`,
      threadTs: thread.ts,
    };
    this.calls.push({ method: 'postLinked', ref, issueId: view.issue.id, view: this.#copy(view) });
    return ref;
  }

  async updateRoot(ref: MessageRef, view: RootView, opts?: PostOptions): Promise<void> {
    await this.#enter('updateRoot', opts?.tokenTaken);
    this.calls.push({ method: 'updateRoot', ref, issueId: view.issue.id, view: this.#copy(view) });
  }

  async postDetails(ref: MessageRef, issue: Issue, opts?: PostOptions): Promise<void> {
    await this.#enter('postDetails', opts?.tokenTaken);
    this.calls.push({
      method: 'postDetails',
      ref,
      issueId: issue.id,
      fingerprint: issue.fingerprint,
      ...(opts?.step ? { step: opts.step } : {}),
    });
    this.#after('postDetails');
  }

  async uploadFiles(ref: MessageRef, issue: Issue, opts?: PostOptions): Promise<void> {
    await this.#enter('uploadFiles', opts?.tokenTaken);
    this.calls.push({ method: 'uploadFiles', ref, issueId: issue.id });
  }

  async postStatusReply(
    ref: MessageRef,
    view: RootView,
    kind: StatusReplyKind,
    opts?: PostOptions,
  ): Promise<void> {
    await this.#enter('postStatusReply', opts?.tokenTaken);
    this.calls.push({
      method: 'postStatusReply',
      ref,
      issueId: view.issue.id,
      fingerprint: view.issue.fingerprint,
      view: this.#copy(view),
      kind,
      ...(opts?.step ? { step: opts.step } : {}),
    });
    this.#after('postStatusReply');
  }

  async postSummary(view: SummaryView, opts?: PostOptions): Promise<MessageRef> {
    await this.#enter('postSummary', opts?.tokenTaken);
    this.#seq += 1;
    const ref = { channel: this.channel, ts: `1700000000.${String(this.#seq).padStart(6, '0')}` };
    this.calls.push({ method: 'postSummary', ref, issueId: '', summary: this.#copy(view) });
    return ref;
  }

  async updateSummary(ref: MessageRef, view: SummaryView, opts?: PostOptions): Promise<void> {
    await this.#enter('updateSummary', opts?.tokenTaken);
    this.calls.push({ method: 'updateSummary', ref, issueId: '', summary: this.#copy(view) });
  }

  async postSummaryLines(
    ref: MessageRef,
    view: SummaryView,
    lines: SummaryLine[],
    asFile: boolean,
    opts?: PostOptions,
  ): Promise<void> {
    await this.#enter('postSummaryLines', opts?.tokenTaken);
    this.calls.push({
      method: 'postSummaryLines',
      ref,
      issueId: '',
      summary: this.#copy(view),
      lines: this.#copy(lines),
      asFile,
    });
  }

  #copy<T>(value: T): T {
    return this.#keep ? structuredClone(value) : value;
  }

  #after(method: DestinationMethod): void {
    const err = this.#failuresAfter.get(method);
    if (err) {
      this.#failuresAfter.delete(method);
      throw err;
    }
  }

  async #enter(method: DestinationMethod, tokenTaken = false): Promise<void> {
    if (!tokenTaken) await this.bucket?.take(this.channel);
    const held = this.#holds.get(method);
    if (held) {
      this.#holds.delete(method);
      held.enter();
      await held.gate;
    }
    const err = this.#failures.get(method);
    if (err) {
      this.#failures.delete(method);
      throw err;
    }
  }
}
