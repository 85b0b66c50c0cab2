import { afterEach, describe, expect, it, vi } from 'vitest';
import { relayToolCallToBackend } from './toolRelay';

const call = { toolCallId: 'call-1', name: 'flag_concern', parameters: { severity: 'high' }, responseRequired: true };

function respondWith(status: number, body: unknown) {
  const fetchMock = vi.fn(async () => new Response(JSON.stringify(body), { status }));
  vi.stubGlobal('fetch', fetchMock);
  return fetchMock;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('relayToolCallToBackend', () => {
  it('posts the camelCase tool call to the session and passes the content back', async () => {
    const fetchMock = respondWith(200, { toolCallId: 'call-1', name: 'flag_concern', content: 'Concern flagged', isError: false });
    await expect(relayToolCallToBackend('s-1', call)).resolves.toEqual({ ok: true, content: 'Concern flagged' });
    const [url, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('/api/sessions/s-1/tool-calls');
    expect(init.method).toBe('POST');
    expect(JSON.parse(String(init.body))).toEqual({ toolCallId: 'call-1', name: 'flag_concern', parameters: { severity: 'high' } });
  });

  it('turns an isError result into a tool error', async () => {
    respondWith(200, { toolCallId: 'call-1', name: 'flag_concern', content: 'Invalid severity', isError: true });
    await expect(relayToolCallToBackend('s-1', call)).resolves.toEqual({
      ok: false,
      error: 'Invalid severity',
      content: 'Invalid severity',
    });
  });

  it('turns an HTTP failure into a tool error with the backend detail', async () => {
    respondWith(404, { detail: 'Session not found' });
    await expect(relayToolCallToBackend('s-1', call)).resolves.toEqual({ ok: false, error: 'Session not found' });
  });
});
