import { ApiError } from '../api';

// Sliding renewal while the therapist is active (OWASP: idle + absolute timeouts; the backend
// enforces the absolute maximum and answers 401 past it).
export const RENEW_EVERY_MS = 5 * 60_000;
export const ACTIVE_WINDOW_MS = 10 * 60_000;
export const CHECK_EVERY_MS = 30_000;

export interface SessionRenewalOptions {
  refresh: () => Promise<unknown>;
  /** Called once per 401; renewal pauses until resume(). */
  onUnauthorized: () => void;
  now?: () => number;
}

export class SessionRenewal {
  private live = false;
  private lastInput: number | null = null;
  private lastRefresh: number | null = null;
  private inFlight = false;
  private paused = false;
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly now: () => number;

  constructor(private readonly options: SessionRenewalOptions) {
    this.now = options.now ?? Date.now;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.check(), CHECK_EVERY_MS);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  setLive(live: boolean): void {
    this.live = live;
    if (live) void this.check();
  }

  noteInput(): void {
    this.lastInput = this.now();
    void this.check();
  }

  /** After a new login the cookie is fresh, so the next renewal is a full interval away. */
  resume(): void {
    this.paused = false;
    this.lastRefresh = this.now();
  }

  async check(): Promise<void> {
    if (this.inFlight || this.paused) return;
    const now = this.now();
    const active = this.live || (this.lastInput !== null && now - this.lastInput < ACTIVE_WINDOW_MS);
    if (!active) return;
    if (this.lastRefresh !== null && now - this.lastRefresh < RENEW_EVERY_MS) return;
    this.inFlight = true;
    try {
      await this.options.refresh();
      this.lastRefresh = now;
    } catch (error) {
      if (error instanceof ApiError && error.isUnauthorized) {
        this.paused = true;
        this.options.onUnauthorized();
      }
      // Anything else (offline, 5xx): the next check tries again.
    } finally {
      this.inFlight = false;
    }
  }
}
