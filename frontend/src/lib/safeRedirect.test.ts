import { describe, expect, it } from 'vitest';
import { safeNextPath } from './safeRedirect';

describe('safeNextPath', () => {
  it('keeps local paths and rejects other sites', () => {
    expect(safeNextPath('/patients/1?tab=sessions')).toBe('/patients/1?tab=sessions');
    expect(safeNextPath('/patients/1#notes')).toBe('/patients/1#notes');
    expect(safeNextPath('//evil.example')).toBe('/dashboard');
    expect(safeNextPath('https://evil.example')).toBe('/dashboard');
    expect(safeNextPath('/\\evil.example')).toBe('/dashboard');
    expect(safeNextPath('/login')).toBe('/dashboard');
    expect(safeNextPath(null)).toBe('/dashboard');
  });

  it('refuses paths the URL parser would turn into another origin', () => {
    // The WHATWG parser strips tab and newline, so "/\t/evil.example" becomes "//evil.example".
    for (const payload of ['/\t/evil.example', '/\n/evil.example', '/\r/evil.example', '/%09/evil.example', '/ /evil.example', '\t//evil.example', '/\u0000/evil.example']) {
      const path = safeNextPath(payload);
      expect(new URL(path, 'https://dimini.test').origin, JSON.stringify(payload)).toBe('https://dimini.test');
      expect(path.startsWith('//')).toBe(false);
    }
  });

  it('takes the first value of a repeated parameter and never throws', () => {
    expect(safeNextPath(['/patients', '//evil.example'])).toBe('/patients');
    expect(safeNextPath([])).toBe('/dashboard');
    expect(safeNextPath(42 as unknown as string)).toBe('/dashboard');
  });
});
