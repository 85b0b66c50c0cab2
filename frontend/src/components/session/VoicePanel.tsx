'use client';

import type { EviVoice } from '@/lib/evi/useEviVoice';
import { humanise } from '@/lib/format';
import { Alert } from '../Alert';

const STATUS_LABELS: Record<EviVoice['status'], string> = {
  idle: 'Voice off',
  connecting: 'Connecting',
  connected: 'Listening',
  reconnecting: 'Reconnecting',
  disconnected: 'Voice off',
  error: 'Voice error',
};

export function VoicePanel({ voice }: { voice: EviVoice }) {
  const running = voice.status === 'connected' || voice.status === 'connecting' || voice.status === 'reconnecting';
  const problem = voice.micError ?? (voice.status === 'error' ? (voice.statusMessage ?? 'The voice assistant stopped.') : null);
  return (
    <section className="card stack" aria-labelledby="voice-title">
      <div className="row spread">
        <h2 id="voice-title">Voice assistant</h2>
        <span className={`badge ${voice.status}`} role="status" data-testid="voice-status">
          {STATUS_LABELS[voice.status]}
        </span>
      </div>
      <p className="muted">Chloe stays silent unless you address her by name.</p>
      {problem && (
        <Alert kind="error">
          <p style={{ margin: 0 }}>{problem}</p>
          <button type="button" className="button secondary" onClick={() => void voice.retry()}>
            Retry
          </button>
        </Alert>
      )}
      {!problem && voice.statusMessage && voice.status !== 'connected' && <Alert kind="info">{voice.statusMessage}</Alert>}
      <div className="row">
        {running ? (
          <>
            <button type="button" className="button secondary" onClick={voice.stop}>
              Stop voice
            </button>
            <button type="button" className="button secondary" aria-pressed={voice.muted} onClick={voice.toggleMute}>
              {voice.muted ? 'Unmute microphone' : 'Mute microphone'}
            </button>
          </>
        ) : (
          !problem && (
            <button type="button" className="button" onClick={() => void voice.start()}>
              Start voice
            </button>
          )
        )}
      </div>
      {voice.utterances.length > 0 && (
        <ol className="entity-list" aria-label="Conversation">
          {voice.utterances.map((utterance, index) => (
            <li key={index}>
              <strong>{humanise(utterance.speaker)}:</strong> {utterance.text}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
