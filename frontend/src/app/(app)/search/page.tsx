import type { Metadata } from 'next';
import { SessionSearch } from '@/components/records/SessionSearch';

export const metadata: Metadata = { title: 'Search sessions' };

export default function SearchPage() {
  return <SessionSearch />;
}
