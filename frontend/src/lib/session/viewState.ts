import type { ApiError } from '@/lib/api';

interface Loaded<T> {
  data: T | null;
  error: ApiError | null;
}

export interface SessionViewInputs {
  session: Loaded<{ patientId: string }>;
  patient: Loaded<unknown>;
  /** The workspace chunk is here. */
  workspace: boolean;
  workspaceFailed: boolean;
}

export type SessionViewState =
  | { kind: 'ready' }
  | { kind: 'loading' }
  | { kind: 'notFound' }
  | { kind: 'error'; message: string };

const WORKSPACE_FAILED = 'The session page could not load. Reload the page to try again.';

/** What the session page shows. The URL's patient must own the session: anything else is "not
 * found", never another's data; any other failure is said, not left loading. */
export function sessionViewState(patientId: string, inputs: SessionViewInputs): SessionViewState {
  const { session, patient } = inputs;
  const mismatched = session.data !== null && session.data.patientId !== patientId;
  if (session.error?.isNotFound || patient.error?.isNotFound || mismatched) return { kind: 'notFound' };
  const error = session.error ?? patient.error;
  if (error) return { kind: 'error', message: error.message };
  if (inputs.workspaceFailed) return { kind: 'error', message: WORKSPACE_FAILED };
  if (!session.data || !patient.data || !inputs.workspace) return { kind: 'loading' };
  return { kind: 'ready' };
}
