'use client';

import { useEffect } from 'react';
import { pageTitle } from './pageTitle';

/** Sets the tab's title while the component is shown (null = keep the metadata title). */
export function useDocumentTitle(what: string | null): void {
  useEffect(() => {
    if (!what) return;
    const before = document.title;
    document.title = pageTitle(what);
    return () => {
      document.title = before;
    };
  }, [what]);
}
