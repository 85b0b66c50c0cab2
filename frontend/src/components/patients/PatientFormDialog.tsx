'use client';

import { useEffect, useRef, useState, type FormEvent } from 'react';
import { api, ApiError } from '@/lib/api';
import {
  EMPTY_PATIENT_FORM,
  patientToFormValues,
  serverFieldToFormField,
  toPatientPayload,
  validatePatientForm,
  type PatientFormErrors,
  type PatientFormValues,
} from '@/lib/patientForm';
import { GENDERS, type Patient } from '@/lib/types';
import { humanise } from '@/lib/format';
import { FormField } from '../FormField';
import { Alert } from '../Alert';

interface PatientFormDialogProps {
  open: boolean;
  patient?: Patient | null;
  onClose: () => void;
  onSaved: (patient: Patient) => void;
}

/** Add or edit a patient in a side sheet (a modal <dialog>, so focus and Escape work natively). */
export function PatientFormDialog({ open, patient, onClose, onSaved }: PatientFormDialogProps) {
  const dialogRef = useRef<HTMLDialogElement>(null);
  const [values, setValues] = useState<PatientFormValues>(EMPTY_PATIENT_FORM);
  const [errors, setErrors] = useState<PatientFormErrors>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);

  useEffect(() => {
    const dialog = dialogRef.current;
    if (!dialog) return;
    if (open && !dialog.open) {
      setValues(patient ? patientToFormValues(patient) : EMPTY_PATIENT_FORM);
      setErrors({});
      setFormError(null);
      dialog.showModal();
    } else if (!open && dialog.open) {
      dialog.close();
    }
  }, [open, patient]);

  const update = (field: keyof PatientFormValues) => (event: { target: { value: string } }) =>
    setValues((current) => ({ ...current, [field]: event.target.value }));

  async function submit(event: FormEvent) {
    event.preventDefault();
    const found = validatePatientForm(values);
    setErrors(found);
    setFormError(null);
    if (Object.keys(found).length) return;
    setSaving(true);
    try {
      const payload = toPatientPayload(values);
      const saved = patient
        ? await api<Patient>(`/api/patients/${patient.id}`, { method: 'PUT', body: payload })
        : await api<Patient>('/api/patients', { method: 'POST', body: payload });
      onSaved(saved);
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) {
        setErrors({ email: 'Another of your patients already uses this email.' });
      } else if (error instanceof ApiError && Object.keys(error.fieldErrors).length) {
        const mapped: PatientFormErrors = {};
        for (const [field, message] of Object.entries(error.fieldErrors)) {
          const formField = serverFieldToFormField(field);
          if (formField) mapped[formField] = message;
        }
        setErrors(mapped);
        setFormError(error.message);
      } else {
        setFormError(error instanceof Error ? error.message : 'Saving failed.');
      }
    } finally {
      setSaving(false);
    }
  }

  const title = patient ? 'Edit patient' : 'Add patient';
  return (
    <dialog ref={dialogRef} className="sheet" aria-labelledby="patient-form-title" onClose={onClose}>
      <form className="stack" onSubmit={submit} noValidate>
        <h2 id="patient-form-title">{title}</h2>
        {formError && <Alert kind="error">{formError}</Alert>}
        <FormField label="Name" error={errors.name}>
          {(props) => <input {...props} value={values.name} onChange={update('name')} maxLength={250} />}
        </FormField>
        <FormField label="Email" error={errors.email}>
          {(props) => <input {...props} type="email" value={values.email} onChange={update('email')} />}
        </FormField>
        <FormField label="Phone" error={errors.phone}>
          {(props) => <input {...props} type="tel" value={values.phone} onChange={update('phone')} />}
        </FormField>
        <div className="grid">
          <FormField label="Age" error={errors.age}>
            {(props) => <input {...props} inputMode="numeric" value={values.age} onChange={update('age')} />}
          </FormField>
          <FormField label="Gender" error={errors.gender}>
            {(props) => (
              <select {...props} value={values.gender} onChange={update('gender')}>
                <option value="">Not specified</option>
                {GENDERS.map((gender) => (
                  <option key={gender} value={gender}>
                    {humanise(gender)}
                  </option>
                ))}
              </select>
            )}
          </FormField>
        </div>
        <FormField label="Occupation" error={errors.occupation}>
          {(props) => <input {...props} value={values.occupation} onChange={update('occupation')} />}
        </FormField>
        <FormField label="Referral source" error={errors.referralSource}>
          {(props) => <input {...props} value={values.referralSource} onChange={update('referralSource')} />}
        </FormField>
        <FormField label="Initial concerns" error={errors.initialConcerns} hint="One per line, at most 10.">
          {(props) => <textarea {...props} rows={4} value={values.initialConcerns} onChange={update('initialConcerns')} />}
        </FormField>
        <div className="row">
          <button className="button" type="submit" disabled={saving}>
            {saving ? 'Saving…' : 'Save patient'}
          </button>
          <button className="button secondary" type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </dialog>
  );
}
