import { describe, expect, it } from 'vitest';
import { EMPTY_PATIENT_FORM, serverFieldToFormField, toPatientPayload, validatePatientForm } from './patientForm';

describe('patient form', () => {
  it('requires a name and rejects malformed optional fields', () => {
    const errors = validatePatientForm({
      ...EMPTY_PATIENT_FORM,
      name: '  ',
      email: 'not-an-email',
      phone: 'x'.repeat(51),
      age: '151',
      initialConcerns: Array.from({ length: 11 }, (_, i) => `concern ${i}`).join('\n'),
    });
    expect(Object.keys(errors).sort()).toEqual(['age', 'email', 'initialConcerns', 'name', 'phone']);
  });

  it('accepts a minimal patient and builds the camelCase payload', () => {
    const values = { ...EMPTY_PATIENT_FORM, name: ' Ada ', age: '41', gender: 'female', initialConcerns: 'sleep\n\n work ' };
    expect(validatePatientForm(values)).toEqual({});
    expect(toPatientPayload(values)).toEqual({
      name: 'Ada',
      email: null,
      phone: null,
      demographics: {
        age: 41,
        gender: 'female',
        occupation: null,
        referralSource: null,
        initialConcerns: ['sleep', 'work'],
      },
    });
  });

  it('maps server error locations onto form fields', () => {
    expect(serverFieldToFormField('demographics.age')).toBe('age');
    expect(serverFieldToFormField('email')).toBe('email');
    expect(serverFieldToFormField('unknown')).toBeNull();
  });
});
