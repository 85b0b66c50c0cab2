// Browser audio for EVI: microphone capture as small base64 chunks and queued playback of the
// assistant's audio. Kept apart from EviClient so the protocol logic stays testable without a browser.

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

export async function startMicrophone(onChunk: (base64: string) => void): Promise<MicrophoneStream> {
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
  const mimeType = ['audio/webm;codecs=opus', 'audio/webm', 'audio/mp4'].find((type) => MediaRecorder.isTypeSupported(type));
  const recorder = new MediaRecorder(stream, mimeType ? { mimeType } : undefined);
  recorder.ondataavailable = (event) => {
    if (event.data.size > 0) void blobToBase64(event.data).then(onChunk);
  };
  recorder.start(CHUNK_MS);
  return {
    stop() {
      if (recorder.state !== 'inactive') recorder.stop();
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
