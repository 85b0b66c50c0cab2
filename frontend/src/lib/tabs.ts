// Arrow keys on a tab list (WAI-ARIA tabs pattern, automatic activation): Left/Right move to the
// previous/next tab and wrap, Home/End go to the first/last; the chosen tab is focused and selected.
export function nextTabIndex(key: string, current: number, count: number): number | null {
  if (count === 0) return null;
  switch (key) {
    case 'ArrowRight':
      return (current + 1) % count;
    case 'ArrowLeft':
      return (current - 1 + count) % count;
    case 'Home':
      return 0;
    case 'End':
      return count - 1;
    default:
      return null;
  }
}

/** onKeyDown for an element with role="tablist": focuses and clicks the tab the key leads to. */
export function onTabListKeyDown(event: { key: string; currentTarget: HTMLElement; preventDefault: () => void }): void {
  const tabs = [...event.currentTarget.querySelectorAll<HTMLElement>('[role="tab"]')];
  const current = tabs.findIndex((tab) => tab.getAttribute('aria-selected') === 'true');
  const next = nextTabIndex(event.key, Math.max(0, current), tabs.length);
  if (next === null) return;
  event.preventDefault();
  tabs[next]?.focus();
  tabs[next]?.click();
}
