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

/**
 * Every Content-Security-Policy violation any page of any context reported, as
 * { page, directive, blocked }. The e2e files assert it is empty after their run (issue 12 #14).
 */
export const cspViolations = [];

async function recordCspViolations(context) {
  await context.exposeBinding('__reportCspViolation', ({ page }, violation) => {
    cspViolations.push({ page: page.url(), ...violation });
  });
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      window.__reportCspViolation({ directive: event.violatedDirective, blocked: event.blockedURI, sample: event.sample });
    });
  });
}

/** `grantMicrophone: false` leaves the permission prompt unanswered, which headless Chromium denies. */
export async function launchChromium({ grantMicrophone = true } = {}) {
  const args = grantMicrophone ? [...CHROMIUM_ARGS, '--use-fake-ui-for-media-stream'] : CHROMIUM_ARGS;
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args });
  const newContext = browser.newContext.bind(browser);
  browser.newContext = async (options) => {
    const context = await newContext(options);
    await recordCspViolations(context);
    return context;
  };
  return browser;
}
