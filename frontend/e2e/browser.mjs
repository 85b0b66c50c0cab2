// Debian's Chromium driven by playwright-core (Playwright's own browser download cannot work here).
import { chromium } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

// Playwright gives every launch a fresh temporary profile (its own --user-data-dir).
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // A fake microphone, so the voice controls can be exercised without hardware.
  '--use-fake-device-for-media-stream',
];

/** `grantMicrophone: false` leaves the permission prompt unanswered, which headless Chromium denies. */
export function launchChromium({ grantMicrophone = true } = {}) {
  const args = grantMicrophone ? [...CHROMIUM_ARGS, '--use-fake-ui-for-media-stream'] : CHROMIUM_ARGS;
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args });
}
