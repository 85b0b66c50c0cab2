'use client';
// Live regions that do not flood a screen reader: the graph's processing status changed four times
// per utterance (61 announcements for 15 utterances). Only the latest message is announced, at most
// once per interval, and a repeat of the last announcement is dropped.
import { useEffect, useRef, useState } from 'react';

export interface Timers {
  now: () => number;
  set: (callback: () => void, ms: number) => unknown;
  clear: (handle: unknown) => void;
}

const REAL_TIMERS: Timers = {
  now: () => Date.now(),
  set: (callback, ms) => setTimeout(callback, ms),
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export function createThrottle(intervalMs: number, emit: (message: string) => void, timers: Timers = REAL_TIMERS) {
  let lastAt = -Infinity;
  let lastMessage: string | null = null;
  let pending: string | null = null;
  let handle: unknown = null;
  const fire = (message: string) => {
    handle = null;
    pending = null;
    if (message === lastMessage) return;
    lastMessage = message;
    lastAt = timers.now();
    emit(message);
  };
  return {
    push(message: string) {
      const wait = lastAt + intervalMs - timers.now();
      if (wait <= 0 && handle === null) {
        fire(message);
        return;
      }
      pending = message;
      if (handle === null) handle = timers.set(() => pending !== null && fire(pending), Math.max(0, wait));
    },
    dispose() {
      if (handle !== null) timers.clear(handle);
      handle = null;
    },
  };
}

/** The text for a polite live region: `message` throttled to one change per `intervalMs`. */
export function useThrottledAnnouncement(message: string | null, intervalMs: number): string {
  const [announced, setAnnounced] = useState('');
  const throttle = useRef<ReturnType<typeof createThrottle> | null>(null);
  useEffect(() => {
    const created = createThrottle(intervalMs, setAnnounced);
    throttle.current = created;
    return () => created.dispose();
  }, [intervalMs]);
  useEffect(() => {
    if (message) throttle.current?.push(message);
  }, [message]);
  return announced;
}
