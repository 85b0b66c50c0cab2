import { transcriptQueueMessage, type TranscriptQueueState } from '@/lib/transcriptQueue';
import { Alert } from '../Alert';

/** Makes a transcript that keeps failing visible: those lines feed the graph and the summary. */
export function TranscriptQueueStatus({ state }: { state: TranscriptQueueState }) {
  const message = transcriptQueueMessage(state);
  if (!message) return null;
  return (
    <div data-testid="transcript-queue-status">
      <Alert kind={message.kind}>{message.text}</Alert>
    </div>
  );
}
