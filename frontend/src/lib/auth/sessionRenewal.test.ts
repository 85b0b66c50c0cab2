import { describe, expect, it, vi } from 'vitest';
import { ApiError } from '../api';
import { ACTIVE_WINDOW_MS, RENEW_EVERY_MS, SessionRenewal } from './sessionRenewal';

function setup(refreshImpl?: () => Promise<unknown>) {
  let now = 1_000_000;
  const refresh = vi.fn(refreshImpl ?? (async () => ({ accessToken: 't', tokenType: 'bearer', expiresIn: 1800, absoluteExpiresIn: 28800 })));
  const onUnauthorized = vi.fn();
  const renewal = new SessionRenewal({ refresh, onUnauthorized, now: () => now });
  return { renewal, refresh, onUnauthorized, advance: (ms: number) => (now += ms) };
}

describe('SessionRenewal', () => {
  it('renews while a live session is connected, at most every 5 minutes', async () => {
    const { renewal, refresh, advance } = setup();
    renewal.setLive(true);
    await renewal.check();
    expect(refresh).toHaveBeenCalledTimes(1);
    advance(RENEW_EVERY_MS - 1);
    await renewal.check();
    await renewal.check();
    expect(refresh).toHaveBeenCalledTimes(1);
    advance(1);
    await renewal.check();
    expect(refresh).toHaveBeenCalledTimes(2);
  });

  it('renews after recent input only, and stops when the therapist has been idle for 10 minutes', async () => {
    const { renewal, refresh, advance } = setup();
    await renewal.check();
    expect(refresh).not.toHaveBeenCalled();
    renewal.noteInput();
    await vi.waitFor(() => expect(refresh).toHaveBeenCalledTimes(1));
    advance(ACTIVE_WINDOW_MS - 1);
    await renewal.check();
    expect(refresh).toHaveBeenCalledTimes(2);
    advance(RENEW_EVERY_MS);
    await renewal.check();
    expect(refresh).toHaveBeenCalledTimes(2);
  });

  it('on 401 asks for a new login once and renews again only after resume()', async () => {
    const { renewal, refresh, onUnauthorized, advance } = setup(async () => {
      throw new ApiError(401, 'Please log in again.');
    });
    renewal.setLive(true);
    await renewal.check();
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
    advance(RENEW_EVERY_MS);
    await renewal.check();
    expect(refresh).toHaveBeenCalledTimes(1);
    renewal.resume();
    advance(RENEW_EVERY_MS);
    await renewal.check();
    expect(refresh).toHaveBeenCalledTimes(2);
  });

  it('tries again at the next check after a network failure', async () => {
    let fail = true;
    const { renewal, refresh, onUnauthorized } = setup(async () => {
      if (fail) throw new ApiError(0, 'Cannot reach the server.');
      return {};
    });
    renewal.setLive(true);
    await renewal.check();
    fail = false;
    await renewal.check();
    expect(refresh).toHaveBeenCalledTimes(2);
    expect(onUnauthorized).not.toHaveBeenCalled();
  });
});
