import { api } from '../api';
import type { EviChat } from './eviClient';

/**
 * Binds an EVI chat (one per socket; a reconnect makes a new one in the same group) to the session.
 * Made by the session's owner, this binding is what lets the backend accept that chat's webhooks.
 */
export async function bindChatToSession(sessionId: string, chat: EviChat): Promise<void> {
  await api(`/api/sessions/${sessionId}/chats`, {
    method: 'POST',
    body: { chatId: chat.chatId, chatGroupId: chat.chatGroupId },
  });
}
