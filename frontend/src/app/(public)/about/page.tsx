import type { Metadata } from 'next';

export const metadata: Metadata = { title: 'About' };

export default function AboutPage() {
  return (
    <article className="hero">
      <h1>About Dimini</h1>
      <p>
        Dimini helps therapists keep track of what comes up during a session without taking their attention away from
        the patient. Speech is transcribed, turned into a graph of topics and emotions, and summarised when the
        session ends.
      </p>
      <p>The voice assistant, Chloe, stays silent unless you address her by name.</p>
    </article>
  );
}
