import type { Metadata } from 'next';

export const metadata: Metadata = { title: 'Privacy' };

export default function PrivacyPage() {
  return (
    <article className="hero">
      <h1>Privacy</h1>
      <p>Dimini handles health information and is private by default.</p>
      <ul>
        <li>Only the therapist who created a patient can see that patient, their sessions and notes.</li>
        <li>Your login lives in a secure, httpOnly cookie; nothing about your session is stored in browser storage.</li>
        <li>Voice is processed by the voice provider only while a session&apos;s voice assistant is switched on.</li>
        <li>Deleting a patient deletes their sessions, notes and graph.</li>
      </ul>
    </article>
  );
}
