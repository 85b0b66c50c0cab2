import type { Metadata } from 'next';
import { PatientDetail } from '@/components/patients/PatientDetail';

export const metadata: Metadata = { title: 'Patient' };

export default async function PatientPage({ params }: { params: Promise<{ patientId: string }> }) {
  const { patientId } = await params;
  return <PatientDetail patientId={patientId} />;
}
