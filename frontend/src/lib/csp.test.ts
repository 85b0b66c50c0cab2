import { describe, expect, it } from 'vitest';

import { DEFAULT_CONNECT_SOURCES, connectSourcesFrom, contentSecurityPolicy } from './csp';

function directives(policy: string): Map<string, string[]> {
  return new Map(policy.split('; ').map((part): [string, string[]] => {
    const [name = '', ...sources] = part.split(' ');
    return [name, sources];
  }));
}

describe('contentSecurityPolicy', () => {
  it('allows scripts only with the nonce and never inline or eval in production', () => {
    const policy = directives(contentSecurityPolicy({ nonce: 'abc' }));
    expect(policy.get('script-src')).toEqual(["'self'", "'nonce-abc'", "'strict-dynamic'"]);
    expect(policy.get('object-src')).toEqual(["'none'"]);
    expect(policy.get('frame-ancestors')).toEqual(["'none'"]);
    expect(policy.get('base-uri')).toEqual(["'none'"]);
    expect(policy.get('connect-src')).toEqual(["'self'", ...DEFAULT_CONNECT_SOURCES]);
  });

  it('allows <style> elements only with the nonce in production', () => {
    expect(directives(contentSecurityPolicy({ nonce: 'abc' })).get('style-src-elem')).toEqual(["'self'", "'nonce-abc'"]);
  });

  it('lets next dev inject its styles: inline, and no nonce (which would void the inline allowance)', () => {
    const styles = directives(contentSecurityPolicy({ nonce: 'n', development: true })).get('style-src-elem');
    expect(styles).toEqual(["'self'", "'unsafe-inline'"]);
  });

  it("adds 'unsafe-eval' only for next dev", () => {
    expect(directives(contentSecurityPolicy({ nonce: 'n', development: true })).get('script-src')).toContain("'unsafe-eval'");
  });
});

describe('connectSourcesFrom', () => {
  it('defaults to Hume and takes space-separated origins', () => {
    expect(connectSourcesFrom(undefined)).toEqual(DEFAULT_CONNECT_SOURCES);
    expect(connectSourcesFrom(' http://127.0.0.1:9 ws://127.0.0.1:9 ')).toEqual(['http://127.0.0.1:9', 'ws://127.0.0.1:9']);
  });

  it.each(["'unsafe-inline'", '*', 'https://a.example; script-src *', 'data:'])('refuses %s', (bad) => {
    expect(() => connectSourcesFrom(bad)).toThrow(/CSP_CONNECT_SRC/);
  });
});
