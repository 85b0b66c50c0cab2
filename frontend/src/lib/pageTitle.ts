'use client';
// Page titles: the metadata template (app/layout.tsx) and titles set once a page's data arrived
// (a patient's name) come from here, so every tab reads "<what> · Dimini".
import { useEffect } from 'react';

export const APP_NAME = 'Dimini';
export const TITLE_TEMPLATE = `%s · ${APP_NAME}`;

export function pageTitle(what: string): string {
  return TITLE_TEMPLATE.replace('%s', what);
}

/** Sets the tab's title while the component is shown (null = leave the metadata title). */
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
