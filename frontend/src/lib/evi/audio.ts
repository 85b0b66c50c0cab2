// Browser audio for EVI: microphone capture as small base64 chunks and queued playback of the
// assistant's audio. Kept apart from EviClient so the protocol logic stays testable without a browser.

import type { RecorderHandle } from './eviClient';

export type MicrophoneErrorKind = 'denied' | 'missing' | 'unsupported' | 'other';

export class MicrophoneError extends Error {
  constructor(
    readonly kind: MicrophoneErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'MicrophoneError';
  }
}

export function describeMicrophoneFailure(error: unknown): MicrophoneError {
  const name = error instanceof DOMException || error instanceof Error ? error.name : '';
  if (name === 'NotAllowedError' || name === 'SecurityError') {
    return new MicrophoneError(
      'denied',
      'Microphone access was blocked. Allow the microphone for this site in your browser settings, then retry.',
    );
  }
  if (name === 'NotFoundError' || name === 'OverconstrainedError') {
    return new MicrophoneError('missing', 'No microphone was found. Connect one, then retry.');
  }
  if (name === 'NotReadableError') {
    return new MicrophoneError('other', 'The microphone is in use by another application. Close it, then retry.');
  }
  return new MicrophoneError('other', 'The microphone could not be started. Please retry.');
}

export interface MicrophoneStream {
  /** A new MediaRecorder on the shared stream; each one starts a complete container stream. */
  createRecorder(onChunk: (base64: string) => void): RecorderHandle;
  stop(): void;
  setMuted(muted: boolean): void;
}

const CHUNK_MS = 100;

function blobToBase64(blob: Blob): Promise<string> {
  return blob.arrayBuffer().then((buffer) => {
    let binary = '';
    const bytes = new Uint8Array(buffer);
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary);
  });
}

/** The part of the MediaRecorder API we use, so tests can script a fake one. */
export interface MediaRecorderLike {
  readonly state: string;
  ondataavailable: ((event: { data: Blob }) => void) | null;
  start(timeslice?: number): void;
  stop(): void;
}

export interface MediaRecorderConstructor {
  new (stream: MediaStream, options?: { mimeType?: string }): MediaRecorderLike;
  isTypeSupported(type: string): boolean;
}

/** Starts one recording; chunks are delivered in order even though base64 encoding is async. */
export function startRecorder(
  stream: MediaStream,
  onChunk: (base64: string) => void,
  Recorder: MediaRecorderConstructor = MediaRecorder as unknown as MediaRecorderConstructor,
): RecorderHandle {
  const mimeType = ['audio/webm;codecs=opus', 'audio/webm', 'audio/mp4'].find((type) => Recorder.isTypeSupported(type));
  const recorder = new Recorder(stream, mimeType ? { mimeType } : undefined);
  let chain = Promise.resolve();
  recorder.ondataavailable = (event) => {
    if (event.data.size === 0) return;
    const encoded = blobToBase64(event.data);
    chain = chain.then(() => encoded.then(onChunk));
  };
  recorder.start(CHUNK_MS);
  return {
    stop() {
      if (recorder.state !== 'inactive') recorder.stop();
    },
  };
}

/** Asks for the microphone once; recorders are created per EVI socket by `createRecorder`. */
export async function startMicrophone(): Promise<MicrophoneStream> {
  if (typeof navigator === 'undefined' || !navigator.mediaDevices?.getUserMedia || typeof MediaRecorder === 'undefined') {
    throw new MicrophoneError('unsupported', 'This browser cannot record audio. Use a current Chrome, Edge, Firefox or Safari.');
  }
  let stream: MediaStream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
  } catch (error) {
    throw describeMicrophoneFailure(error);
  }
  const recorders = new Set<RecorderHandle>();
  return {
    createRecorder(onChunk) {
      const handle = startRecorder(stream, onChunk);
      recorders.add(handle);
      return {
        stop() {
          recorders.delete(handle);
          handle.stop();
        },
      };
    },
    stop() {
      recorders.forEach((handle) => handle.stop());
      recorders.clear();
      stream.getTracks().forEach((track) => track.stop());
    },
    setMuted(muted) {
      stream.getAudioTracks().forEach((track) => {
        track.enabled = !muted;
      });
    },
  };
}

/** Plays EVI's audio_output chunks (base64 WAV) one after another; stop() on interruption. */
export class AudioPlayer {
  private context: AudioContext | null = null;
  private queue: string[] = [];
  private current: AudioBufferSourceNode | null = null;
  private playing = false;

  enqueue(base64: string): void {
    this.queue.push(base64);
    if (!this.playing) void this.playNext();
  }

  stop(): void {
    this.queue = [];
    this.current?.stop();
    this.current = null;
    this.playing = false;
  }

  close(): void {
    this.stop();
    void this.context?.close();
    this.context = null;
  }

  private async playNext(): Promise<void> {
    const next = this.queue.shift();
    if (!next) {
      this.playing = false;
      return;
    }
    this.playing = true;
    this.context ??= new AudioContext();
    try {
      const bytes = Uint8Array.from(atob(next), (char) => char.charCodeAt(0));
      const buffer = await this.context.decodeAudioData(bytes.buffer);
      const source = this.context.createBufferSource();
      source.buffer = buffer;
      source.connect(this.context.destination);
      source.onended = () => void this.playNext();
      this.current = source;
      source.start();
    } catch {
      void this.playNext(); // a chunk that cannot be decoded is skipped, not fatal
    }
  }
}
