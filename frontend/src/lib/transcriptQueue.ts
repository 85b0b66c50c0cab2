import { ApiError } from './api';

// Transcript lines feed the knowledge graph and the summary, so none may be lost silently: they are
// posted in order, one at a time, retried with backoff, and held (not dropped) while signed out.

export interface TranscriptQueueState {
  pending: number;
  /** Several attempts in a row failed; the page shows it. */
  failing: boolean;
  /** Waiting for a new sign-in (401); resume() continues. */
  paused: boolean;
  /** Lines the server refused for good (e.g. the session ended); shown, never hidden. */
  refused: number;
}

interface Scheduler {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface TranscriptQueueOptions {
  post: (text: string) => Promise<unknown>;
  onUnauthorized?: () => void;
  scheduler?: Scheduler;
  baseDelayMs?: number;
  maxDelayMs?: number;
  failingAfter?: number;
}

const defaultScheduler: Scheduler = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};

// Client errors that a retry cannot fix (bad line, session gone); retrying them would block the queue.
const PERMANENT = new Set([400, 403, 404, 409, 413, 422]);

export class TranscriptQueue {
  private readonly lines: string[] = [];
  private sending = false;
  private failures = 0;
  private refused = 0;
  private paused = false;
  private timer: unknown = null;
  private readonly listeners = new Set<(state: TranscriptQueueState) => void>();
  private readonly scheduler: Scheduler;

  constructor(private readonly options: TranscriptQueueOptions) {
    this.scheduler = options.scheduler ?? defaultScheduler;
  }

  get state(): TranscriptQueueState {
    return {
      pending: this.lines.length,
      failing: this.failures >= (this.options.failingAfter ?? 3),
      paused: this.paused,
      refused: this.refused,
    };
  }

  subscribe(listener: (state: TranscriptQueueState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  enqueue(text: string): void {
    this.lines.push(text);
    this.changed();
    this.pump();
  }

  resume(): void {
    this.paused = false;
    this.failures = 0;
    if (this.timer !== null) this.scheduler.clearTimeout(this.timer);
    this.timer = null;
    this.changed();
    this.pump();
  }

  dispose(): void {
    if (this.timer !== null) this.scheduler.clearTimeout(this.timer);
    this.timer = null;
  }

  private pump(): void {
    if (this.sending || this.paused || this.timer !== null || this.lines.length === 0) return;
    this.sending = true;
    const text = this.lines[0]!;
    this.options.post(text).then(
      () => {
        this.sending = false;
        this.lines.shift();
        this.failures = 0;
        this.changed();
        this.pump();
      },
      (error: unknown) => {
        this.sending = false;
        if (error instanceof ApiError && error.isUnauthorized) {
          this.paused = true;
          this.changed();
          this.options.onUnauthorized?.();
          return;
        }
        if (error instanceof ApiError && PERMANENT.has(error.status)) {
          this.lines.shift();
          this.refused += 1;
          this.changed();
          this.pump();
          return;
        }
        this.failures += 1;
        this.changed();
        const base = this.options.baseDelayMs ?? 1000;
        const delay = Math.min(base * 2 ** (this.failures - 1), this.options.maxDelayMs ?? 30_000);
        this.timer = this.scheduler.setTimeout(() => {
          this.timer = null;
          this.pump();
        }, delay);
      },
    );
  }

  private changed(): void {
    const state = this.state;
    this.listeners.forEach((listener) => listener(state));
  }
}

/** What the live page shows about the queue, or null when all is well. */
export function transcriptQueueMessage(state: TranscriptQueueState): { kind: 'error' | 'info'; text: string } | null {
  if (state.paused) {
    return { kind: 'info', text: `Transcript saving is paused until you sign in again (${state.pending} waiting).` };
  }
  if (state.failing) {
    return {
      kind: 'error',
      text: `Transcript lines are not reaching the server (${state.pending} waiting). Retrying automatically; keep this page open.`,
    };
  }
  if (state.refused > 0) {
    return { kind: 'error', text: `${state.refused} transcript line(s) were refused by the server and not saved.` };
  }
  return null;
}
