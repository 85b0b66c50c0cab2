import { afterEach, describe, expect, it, vi } from 'vitest';
import { bindChatToSession } from './chats';

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('bindChatToSession', () => {
  it('posts the chat id and chat group id to the session', async () => {
    const fetchMock = vi.fn(async () => new Response(JSON.stringify({ chatId: 'c-1' }), { status: 201 }));
    vi.stubGlobal('fetch', fetchMock);
    await bindChatToSession('s-1', { chatId: 'c-1', chatGroupId: 'g-1' });
    const [url, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('/api/sessions/s-1/chats');
    expect(init.method).toBe('POST');
    expect(JSON.parse(String(init.body))).toEqual({ chatId: 'c-1', chatGroupId: 'g-1' });
  });

  it('rejects with the backend detail when the chat belongs to another session', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify({ detail: 'Chat already bound' }), { status: 409 })));
    await expect(bindChatToSession('s-1', { chatId: 'c-1', chatGroupId: 'g-1' })).rejects.toThrow('Chat already bound');
  });
});
