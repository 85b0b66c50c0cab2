'use client';

import { useEffect } from 'react';
import { pageTitle } from './pageTitle';

/** Sets the tab's title while the component is shown (null = keep the metadata title). */
export function useDocumentTitle(what: string | null): void {
  useEffect(() => {
    if (!what) return;
    const before = document.title;
    const wanted = pageTitle(what);
    document.title = wanted;
    // Pages are rendered per request (the CSP nonce), so Next streams the metadata <title> in
    // after hydration and would overwrite this one; put ours back whenever that happens.
    const observer = new MutationObserver(() => {
      if (document.title !== wanted) document.title = wanted;
    });
    observer.observe(document.head, { subtree: true, childList: true, characterData: true });
    return () => {
      observer.disconnect();
      document.title = before;
    };
  }, [what]);
}
