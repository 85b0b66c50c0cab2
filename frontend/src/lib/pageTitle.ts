// Page titles: the metadata template (app/layout.tsx) and the titles set once a page's data arrived
// (useDocumentTitle, with a patient's name) come from here, so every tab reads "<what> · Dimini".
export const APP_NAME = 'Dimini';
export const TITLE_TEMPLATE = `%s · ${APP_NAME}`;

export function pageTitle(what: string): string {
  return TITLE_TEMPLATE.replace('%s', what);
}
