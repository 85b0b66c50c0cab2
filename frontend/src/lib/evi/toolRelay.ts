import { api, ApiError, redirectToLogin } from '../api';
import type { ToolResult } from '../types';
import type { EviToolCall, ToolRelayResult } from './eviClient';

/**
 * Relays an EVI tool call to the backend (idempotent by toolCallId there). The backend reports bad
 * parameters as `isError` results; those, and transport failures, become EVI tool errors.
 */
export async function relayToolCallToBackend(sessionId: string, call: EviToolCall): Promise<ToolRelayResult> {
  try {
    const result = await api<ToolResult>(`/api/sessions/${sessionId}/tool-calls`, {
      method: 'POST',
      body: { toolCallId: call.toolCallId, name: call.name, parameters: call.parameters },
    });
    return result.isError
      ? { ok: false, error: result.content, content: result.content }
      : { ok: true, content: result.content };
  } catch (error) {
    // A 401 opens the live page's re-login dialog; EVI still gets its one answer (a tool error).
    if (error instanceof ApiError && error.isUnauthorized) redirectToLogin();
    return { ok: false, error: error instanceof ApiError ? error.message : 'Could not reach the server' };
  }
}
