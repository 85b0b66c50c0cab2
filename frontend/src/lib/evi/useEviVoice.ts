'use client';

import { useCallback, useEffect, useRef, useState } from 'react';
import { api, ApiError, redirectToLogin } from '../api';
import type { HumeToken } from '../types';
// Types only: the EVI client and the audio code load when the voice starts, not with the page.
import type { AudioPlayer, MicrophoneStream } from './audio';
import type { EmotionScore, EviClient, EviStatus } from './eviClient';
import { relayToolCallToBackend } from './toolRelay';
import { bindChatToSession } from './chats';

export interface Utterance {
  speaker: 'patient' | 'assistant';
  text: string;
}

export interface EviVoice {
  status: EviStatus;
  statusMessage: string | null;
  micError: string | null;
  muted: boolean;
  topEmotion: EmotionScore | null;
  utterances: Utterance[];
  start: () => Promise<void>;
  stop: () => void;
  retry: () => Promise<void>;
  toggleMute: () => void;
}

interface UseEviVoiceOptions {
  sessionId: string;
  patientContext: string;
  onToolResult?: (name: string) => void;
  /** Final patient utterances; the live page queues them (retry, kept while signed out). */
  onPatientText?: (text: string) => void;
}

/** React wrapper around EviClient plus microphone and speaker, for the live session page. */
export function useEviVoice({ sessionId, patientContext, onToolResult, onPatientText }: UseEviVoiceOptions): EviVoice {
  const [status, setStatus] = useState<EviStatus>('idle');
  const [statusMessage, setStatusMessage] = useState<string | null>(null);
  const [micError, setMicError] = useState<string | null>(null);
  const [muted, setMuted] = useState(false);
  const [topEmotion, setTopEmotion] = useState<EmotionScore | null>(null);
  const [utterances, setUtterances] = useState<Utterance[]>([]);
  const clientRef = useRef<EviClient | null>(null);
  const micRef = useRef<MicrophoneStream | null>(null);
  const playerRef = useRef<AudioPlayer | null>(null);
  const onToolResultRef = useRef(onToolResult);
  const onPatientTextRef = useRef(onPatientText);
  useEffect(() => {
    onToolResultRef.current = onToolResult;
    onPatientTextRef.current = onPatientText;
  }, [onToolResult, onPatientText]);

  const stop = useCallback(() => {
    micRef.current?.stop();
    micRef.current = null;
    clientRef.current?.disconnect();
    clientRef.current = null;
    playerRef.current?.close();
    playerRef.current = null;
  }, []);

  const start = useCallback(async () => {
    stop();
    setMicError(null);
    setStatusMessage(null);
    const [{ EviClient }, { AudioPlayer, MicrophoneError, startMicrophone }] = await Promise.all([
      import('./eviClient'),
      import('./audio'),
    ]);
    const client = new EviClient({
      sessionId,
      patientContext,
      getToken: async () => {
        const token = await api<HumeToken>('/api/hume/token').catch((error: unknown) => {
          // On the live page this opens the re-login dialog; the open socket is not affected.
          if (error instanceof ApiError && error.isUnauthorized) redirectToLogin();
          throw error;
        });
        return { accessToken: token.accessToken, configId: token.configId, eviUrl: token.eviUrl };
      },
      bindChat: (chat) => bindChatToSession(sessionId, chat),
      relayToolCall: (call) => relayToolCallToBackend(sessionId, call),
      // EviClient calls this on every socket open (first and each reconnect): a fresh recording each time.
      startRecorder: (onChunk) => {
        const mic = micRef.current;
        if (!mic) throw new Error('The microphone is not available.');
        return mic.createRecorder(onChunk);
      },
    });
    const player = new AudioPlayer();
    clientRef.current = client;
    playerRef.current = player;
    client.on('status', (event) => {
      setStatus(event.status);
      setStatusMessage(event.message ?? null);
      // Once EVI has given up, stop listening: the microphone indicator must not stay on.
      if (event.status === 'error') {
        micRef.current?.stop();
        micRef.current = null;
      }
    });
    client.on('audioOutput', ({ data }) => player.enqueue(data));
    client.on('userInterruption', () => player.stop());
    client.on('assistantMessage', ({ text }) => setUtterances((list) => [...list.slice(-19), { speaker: 'assistant', text }]));
    client.on('userMessage', ({ text, interim, topEmotions }) => {
      if (interim || !text) return;
      if (topEmotions[0]) setTopEmotion(topEmotions[0]);
      setUtterances((list) => [...list.slice(-19), { speaker: 'patient', text }]);
      // The patient's words feed the knowledge graph; the queue posts them in order and retries.
      onPatientTextRef.current?.(text);
    });
    client.on('serverError', ({ message }) => setStatusMessage(message));
    client.on('toolResult', ({ name }) => onToolResultRef.current?.(name));

    client.on('audioError', ({ message }) => setMicError(message));
    client.on('chatBindError', ({ message }) => setStatusMessage(`Voice notes may not reach this session: ${message}`));

    // Microphone permission first (without it there is nothing to send), then connect; recording
    // itself only starts once a socket is open.
    try {
      micRef.current = await startMicrophone();
    } catch (error) {
      clientRef.current = null;
      setStatus('error');
      setMicError(error instanceof MicrophoneError ? error.message : 'The microphone could not be started.');
      return;
    }
    await client.connect();
    if (client.currentStatus !== 'connected' && client.currentStatus !== 'reconnecting') {
      micRef.current?.stop();
      micRef.current = null;
    }
  }, [sessionId, patientContext, stop]);

  const retry = useCallback(() => start(), [start]);

  const toggleMute = useCallback(() => {
    setMuted((current) => {
      micRef.current?.setMuted(!current);
      return !current;
    });
  }, []);

  useEffect(() => stop, [stop]);

  return { status, statusMessage, micError, muted, topEmotion, utterances, start, stop, retry, toggleMute };
}
