import { describe, expect, it, vi } from 'vitest';
import { ApiError } from './api';
import { TranscriptQueue, transcriptQueueMessage, type TranscriptQueueState } from './transcriptQueue';

function manualScheduler() {
  const timers: { callback: () => void; ms: number }[] = [];
  return {
    timers,
    scheduler: {
      setTimeout: (callback: () => void, ms: number) => timers.push({ callback, ms }),
      clearTimeout: () => undefined,
    },
    fireNext: () => timers.shift()?.callback(),
  };
}

describe('TranscriptQueue', () => {
  it('posts lines in order, one at a time', async () => {
    const posted: string[] = [];
    let release: () => void = () => undefined;
    const post = vi.fn((text: string) => new Promise<void>((resolve) => (release = () => (posted.push(text), resolve()))));
    const queue = new TranscriptQueue({ post, scheduler: manualScheduler().scheduler });
    queue.enqueue('one');
    queue.enqueue('two');
    expect(post).toHaveBeenCalledTimes(1);
    release();
    await vi.waitFor(() => expect(post).toHaveBeenCalledTimes(2));
    release();
    await vi.waitFor(() => expect(queue.state.pending).toBe(0));
    expect(posted).toEqual(['one', 'two']);
  });

  it('retries with growing delays, shows failing after repeated failures, and recovers in order', async () => {
    const { scheduler, timers, fireNext } = manualScheduler();
    let failures = 4;
    const posted: string[] = [];
    const post = vi.fn(async (text: string) => {
      if (failures > 0) {
        failures -= 1;
        throw new ApiError(503, 'The server is unavailable.');
      }
      posted.push(text);
    });
    const states: TranscriptQueueState[] = [];
    const queue = new TranscriptQueue({ post, scheduler, baseDelayMs: 100, failingAfter: 3 });
    queue.subscribe((state) => states.push(state));
    queue.enqueue('first');
    queue.enqueue('second');
    await vi.waitFor(() => expect(timers).toHaveLength(1));
    expect(queue.state.failing).toBe(false);
    fireNext();
    await vi.waitFor(() => expect(timers).toHaveLength(1));
    fireNext();
    await vi.waitFor(() => expect(timers).toHaveLength(1));
    expect(queue.state).toMatchObject({ failing: true, pending: 2 });
    fireNext();
    await vi.waitFor(() => expect(post).toHaveBeenCalledTimes(4));
    await vi.waitFor(() => expect(timers).toHaveLength(1));
    expect(timers[0]!.ms).toBe(800);
    fireNext();
    await vi.waitFor(() => expect(queue.state.pending).toBe(0));
    expect(posted).toEqual(['first', 'second']);
    expect(queue.state.failing).toBe(false);
    expect(states.some((s) => s.failing)).toBe(true);
  });

  it('counts a line the server refuses for good and goes on with the next', async () => {
    const posted: string[] = [];
    const post = vi.fn(async (text: string) => {
      if (text === 'bad') throw new ApiError(409, 'Session is not active');
      posted.push(text);
    });
    const queue = new TranscriptQueue({ post, scheduler: manualScheduler().scheduler });
    queue.enqueue('bad');
    queue.enqueue('good');
    await vi.waitFor(() => expect(queue.state.pending).toBe(0));
    expect(posted).toEqual(['good']);
    expect(queue.state.refused).toBe(1);
  });

  it('pauses on 401 without retrying, keeps the lines, and flushes them on resume()', async () => {
    const { scheduler, timers } = manualScheduler();
    let unauthorized = true;
    const posted: string[] = [];
    const post = vi.fn(async (text: string) => {
      if (unauthorized) throw new ApiError(401, 'Please log in again.');
      posted.push(text);
    });
    const onUnauthorized = vi.fn();
    const queue = new TranscriptQueue({ post, scheduler, onUnauthorized });
    queue.enqueue('kept 1');
    await vi.waitFor(() => expect(onUnauthorized).toHaveBeenCalledTimes(1));
    queue.enqueue('kept 2');
    expect(queue.state).toMatchObject({ paused: true, pending: 2 });
    expect(timers).toHaveLength(0);
    expect(post).toHaveBeenCalledTimes(1);
    unauthorized = false;
    queue.resume();
    await vi.waitFor(() => expect(queue.state.pending).toBe(0));
    expect(posted).toEqual(['kept 1', 'kept 2']);
  });
});

describe('transcriptQueueMessage', () => {
  it('says nothing while lines flow, and names the waiting lines when they keep failing or wait for sign-in', () => {
    expect(transcriptQueueMessage({ pending: 1, failing: false, paused: false, refused: 0 })).toBeNull();
    expect(transcriptQueueMessage({ pending: 3, failing: true, paused: false, refused: 0 })).toEqual({
      kind: 'error',
      text: 'Transcript lines are not reaching the server (3 waiting). Retrying automatically; keep this page open.',
    });
    expect(transcriptQueueMessage({ pending: 2, failing: false, paused: true, refused: 0 })?.text).toBe(
      'Transcript saving is paused until you sign in again (2 waiting).',
    );
    expect(transcriptQueueMessage({ pending: 0, failing: false, paused: false, refused: 1 })?.kind).toBe('error');
  });
});
