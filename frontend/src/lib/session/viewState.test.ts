import { describe, expect, it } from 'vitest';
import { ApiError } from '@/lib/api';
import { sessionViewState } from './viewState';

const session = { patientId: 'p1' };
const patient = { id: 'p1' };
const ready = { session: { data: session, error: null }, patient: { data: patient, error: null }, workspace: true, workspaceFailed: false };

describe('sessionViewState', () => {
  it('is ready with the session, its patient and the workspace chunk', () => {
    expect(sessionViewState('p1', ready)).toEqual({ kind: 'ready' });
  });

  it('loads while any of the three is missing', () => {
    expect(sessionViewState('p1', { ...ready, workspace: false })).toEqual({ kind: 'loading' });
    expect(sessionViewState('p1', { ...ready, patient: { data: null, error: null } })).toEqual({ kind: 'loading' });
  });

  it("is not found for another patient's session or a 404 of either", () => {
    expect(sessionViewState('p2', ready)).toEqual({ kind: 'notFound' });
    const gone = { data: null, error: new ApiError(404, 'Not found') };
    expect(sessionViewState('p1', { ...ready, patient: gone })).toEqual({ kind: 'notFound' });
    expect(sessionViewState('p1', { ...ready, session: gone })).toEqual({ kind: 'notFound' });
  });

  it("says the patient's error instead of loading forever (a 500 or a network error)", () => {
    const failed = { data: null, error: new ApiError(500, 'The server had a problem.') };
    expect(sessionViewState('p1', { ...ready, patient: failed })).toEqual({ kind: 'error', message: 'The server had a problem.' });
  });

  it("says the session's error first, then a workspace chunk that failed to load", () => {
    const failed = { data: null, error: new ApiError(503, 'Unavailable') };
    expect(sessionViewState('p1', { ...ready, session: failed })).toEqual({ kind: 'error', message: 'Unavailable' });
    expect(sessionViewState('p1', { ...ready, workspace: false, workspaceFailed: true }).kind).toBe('error');
  });
});
