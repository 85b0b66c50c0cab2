import { describe, expect, it } from 'vitest';
import { createThrottle, type Timers } from './announce';

function fakeTimers() {
  let now = 0;
  const queue: { at: number; callback: () => void; id: number }[] = [];
  let nextId = 0;
  const timers: Timers = {
    now: () => now,
    set: (callback, ms) => {
      const id = (nextId += 1);
      queue.push({ at: now + ms, callback, id });
      return id;
    },
    clear: (id) => queue.splice(queue.findIndex((entry) => entry.id === id), 1),
  };
  const advance = (ms: number) => {
    now += ms;
    for (const entry of [...queue].sort((a, b) => a.at - b.at)) {
      if (entry.at > now) continue;
      queue.splice(queue.indexOf(entry), 1);
      entry.callback();
    }
  };
  return { timers, advance };
}

describe('throttled announcements', () => {
  it('announces 15 utterances of four stages each a handful of times, ending on the latest', () => {
    const { timers, advance } = fakeTimers();
    const said: string[] = [];
    const throttle = createThrottle(10_000, (message) => said.push(message), timers);
    for (let utterance = 1; utterance <= 15; utterance += 1) {
      for (const stage of ['Extracting', 'Embedding', 'Linking', `${utterance * 10} entities`]) {
        throttle.push(stage);
        advance(500);
      }
      advance(2_000); // an utterance every 4 s
    }
    advance(10_000);
    expect(said.length).toBeLessThanOrEqual(8);
    expect(said[0]).toBe('Extracting');
    expect(said.at(-1)).toBe('150 entities');
  });

  it('drops a repeat of the last announcement', () => {
    const { timers, advance } = fakeTimers();
    const said: string[] = [];
    const throttle = createThrottle(1_000, (message) => said.push(message), timers);
    throttle.push('3 entities');
    advance(5_000);
    throttle.push('3 entities');
    advance(5_000);
    expect(said).toEqual(['3 entities']);
  });
});
