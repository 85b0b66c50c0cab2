// Test kit: EVI wire messages built and checked by the npm `hume` package's own serializers, so
// our tests agree with Hume's schema rather than with literals we wrote ourselves.
import { serialization } from 'hume';

const ev = serialization.empathicVoice;

const EMOTIONS = (
  'admiration adoration aestheticAppreciation amusement anger anxiety awe awkwardness boredom calmness ' +
  'concentration confusion contemplation contempt contentment craving desire determination disappointment ' +
  'disgust distress doubt ecstasy embarrassment empathicPain entrancement envy excitement fear guilt horror ' +
  'interest joy love nostalgia pain pride realization relief romance sadness satisfaction shame ' +
  'surpriseNegative surprisePositive sympathy tiredness triumph'
).split(' ');

type Raw = Record<string, unknown>;

/** Server → client messages, as Hume's serializer writes them on the wire. */
export const evi = {
  chatMetadata: (chatId: string, chatGroupId: string): Raw =>
    ev.ChatMetadata.jsonOrThrow({ type: 'chat_metadata', chatId, chatGroupId }) as unknown as Raw,
  userMessage: (content: string, scores: Record<string, number> = {}, interim = false): Raw => {
    const all = Object.fromEntries(EMOTIONS.map((name) => [name, scores[name] ?? 0]));
    return ev.UserMessage.jsonOrThrow({
      type: 'user_message',
      message: { role: 'user', content },
      models: { prosody: { scores: all as never } },
      interim,
      fromText: false,
      time: { begin: 0, end: 1200 },
    }) as unknown as Raw;
  },
  assistantMessage: (content: string): Raw =>
    ev.AssistantMessage.jsonOrThrow({
      type: 'assistant_message',
      message: { role: 'assistant', content },
      models: {},
      fromText: false,
      isQuickResponse: false,
    }) as unknown as Raw,
  audioOutput: (id: string, data: string): Raw => ev.AudioOutput.jsonOrThrow({ type: 'audio_output', id, index: 0, data }) as unknown as Raw,
  toolCall: (toolCallId: string, name: string, parameters = '{}'): Raw =>
    ev.ToolCallMessage.jsonOrThrow({
      type: 'tool_call',
      toolCallId,
      name,
      parameters,
      responseRequired: true,
      toolType: 'function',
    }) as unknown as Raw,
  error: (code: string, message: string, slug: string): Raw =>
    ev.WebSocketError.jsonOrThrow({ type: 'error', code, message, slug }) as unknown as Raw,
};

const CLIENT_SCHEMAS: Record<string, typeof ev.AudioInput | typeof ev.SessionSettings | typeof ev.ToolResponseMessage | typeof ev.ToolErrorMessage> = {
  session_settings: ev.SessionSettings,
  audio_input: ev.AudioInput,
  tool_response: ev.ToolResponseMessage,
  tool_error: ev.ToolErrorMessage,
};

/** Why a client → server message is not what Hume's schema accepts (unknown keys refused), or null. */
export function clientMessageViolation(message: Raw): string | null {
  const schema = CLIENT_SCHEMAS[String(message.type)];
  if (!schema) return `no Hume schema for a client message of type ${String(message.type)}`;
  const result = schema.parse(message, { unrecognizedObjectKeys: 'fail' });
  return result.ok ? null : `${String(message.type)}: ${JSON.stringify(result.errors)}`;
}
