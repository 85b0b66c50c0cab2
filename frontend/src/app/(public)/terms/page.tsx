import type { Metadata } from 'next';

export const metadata: Metadata = { title: 'Terms' };

export default function TermsPage() {
  return (
    <article className="hero">
      <h1>Terms of use</h1>
      <p>
        Dimini supports, and does not replace, clinical judgement. Summaries and graphs are generated automatically and
        may be incomplete or wrong; review them before relying on them.
      </p>
      <p>You are responsible for obtaining your patients&apos; consent before recording a session.</p>
    </article>
  );
}
