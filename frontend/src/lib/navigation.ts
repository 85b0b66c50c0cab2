/**
 * A full page load rather than a client-side transition: used at login and logout on purpose, so
 * the proxy sees the new cookie state and no in-memory data of the previous user survives.
 */
export function hardNavigate(path: string): void {
  window.location.assign(path);
}
