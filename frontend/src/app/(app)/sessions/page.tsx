import type { Metadata } from 'next';
import { QuickStart } from '@/components/QuickStart';

export const metadata: Metadata = { title: 'Quick start' };

export default function QuickStartPage() {
  return <QuickStart />;
}
