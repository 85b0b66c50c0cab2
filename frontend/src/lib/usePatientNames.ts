'use client';

import { useMemo } from 'react';
import { useApiResource } from './useApiResource';
import type { Page, Patient } from './types';

/** Names of the therapist's patients by id, for session lists (sessions carry only patientId). */
export function usePatientNames(): Map<string, string> {
  const patients = useApiResource<Page<Patient>>('/api/patients?pageSize=100');
  return useMemo(
    () => new Map((patients.data?.items ?? []).map((patient) => [patient.id, patient.name])),
    [patients.data],
  );
}
