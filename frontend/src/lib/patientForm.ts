// Validation of the patient form, mirroring the backend's rules so errors show before submitting.
import { GENDERS, type Demographics, type Gender, type Patient } from './types';

export interface PatientFormValues {
  name: string;
  email: string;
  phone: string;
  age: string;
  gender: string;
  occupation: string;
  referralSource: string;
  initialConcerns: string;
}

export type PatientFormErrors = Partial<Record<keyof PatientFormValues, string>>;

export interface PatientPayload {
  name: string;
  email: string | null;
  phone: string | null;
  demographics: Demographics;
}

export const EMPTY_PATIENT_FORM: PatientFormValues = {
  name: '',
  email: '',
  phone: '',
  age: '',
  gender: '',
  occupation: '',
  referralSource: '',
  initialConcerns: '',
};

const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
export const MAX_INITIAL_CONCERNS = 10;

function concernsOf(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
}

export function validatePatientForm(values: PatientFormValues): PatientFormErrors {
  const errors: PatientFormErrors = {};
  const name = values.name.trim();
  if (!name) errors.name = 'Name is required.';
  else if (name.length > 200) errors.name = 'Name must be at most 200 characters.';
  if (values.email.trim() && !EMAIL_PATTERN.test(values.email.trim())) errors.email = 'Enter a valid email address.';
  if (values.phone.trim().length > 50) errors.phone = 'Phone must be at most 50 characters.';
  if (values.age.trim()) {
    const age = Number(values.age);
    if (!Number.isInteger(age) || age < 0 || age > 150) errors.age = 'Age must be a whole number from 0 to 150.';
  }
  if (values.gender && !(GENDERS as readonly string[]).includes(values.gender)) errors.gender = 'Choose a gender.';
  if (concernsOf(values.initialConcerns).length > MAX_INITIAL_CONCERNS) {
    errors.initialConcerns = `At most ${MAX_INITIAL_CONCERNS} initial concerns (one per line).`;
  }
  return errors;
}

export function toPatientPayload(values: PatientFormValues): PatientPayload {
  const optional = (text: string) => text.trim() || null;
  return {
    name: values.name.trim(),
    email: optional(values.email),
    phone: optional(values.phone),
    demographics: {
      age: values.age.trim() ? Number(values.age) : null,
      gender: (values.gender || null) as Gender | null,
      occupation: optional(values.occupation),
      referralSource: optional(values.referralSource),
      initialConcerns: concernsOf(values.initialConcerns),
    },
  };
}

export function patientToFormValues(patient: Patient): PatientFormValues {
  const demographics = patient.demographics ?? {};
  return {
    name: patient.name,
    email: patient.email ?? '',
    phone: patient.phone ?? '',
    age: demographics.age == null ? '' : String(demographics.age),
    gender: demographics.gender ?? '',
    occupation: demographics.occupation ?? '',
    referralSource: demographics.referralSource ?? '',
    initialConcerns: (demographics.initialConcerns ?? []).join('\n'),
  };
}

/** Server 422 locations like `demographics.age` map onto form fields. */
export function serverFieldToFormField(field: string): keyof PatientFormValues | null {
  const last = field.split('.').pop() ?? '';
  return last in EMPTY_PATIENT_FORM ? (last as keyof PatientFormValues) : null;
}

/** The patient context EVI keeps for the whole chat (session_settings.context). */
export function describePatientForEvi(patient: Patient): string {
  const d = patient.demographics ?? {};
  const parts = [`Patient: ${patient.name}.`];
  if (d.age != null) parts.push(`Age ${d.age}.`);
  if (d.gender) parts.push(`Gender: ${d.gender.replace(/_/g, ' ')}.`);
  if (d.occupation) parts.push(`Occupation: ${d.occupation}.`);
  if (d.initialConcerns?.length) parts.push(`Initial concerns: ${d.initialConcerns.join('; ')}.`);
  parts.push('You are Chloe, a silent assistant to the therapist: speak only when addressed by name.');
  return parts.join(' ');
}
