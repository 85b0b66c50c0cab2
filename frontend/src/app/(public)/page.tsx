import Link from 'next/link';

export default function LandingPage() {
  return (
    <section className="hero">
      <h1>See what matters in every session</h1>
      <p>
        Dimini listens alongside you. A quiet voice assistant, Chloe, speaks only when you address her by name, while
        each thing your patient says becomes part of a live map of topics and emotions. Notes, progress and concerns
        are captured as you go, and a summary is ready when the session ends.
      </p>
      <div className="row">
        <Link href="/register" prefetch={false} className="button">
          Create your account
        </Link>
        <Link href="/login" prefetch={false} className="button secondary">
          Log in
        </Link>
      </div>
      <div className="grid" style={{ marginTop: '2rem' }}>
        <div className="card">
          <h2>Live knowledge graph</h2>
          <p className="muted">Topics and emotions linked by similarity, sized by how central they are.</p>
        </div>
        <div className="card">
          <h2>Voice assistant</h2>
          <p className="muted">Save notes, mark progress and flag concerns hands-free.</p>
        </div>
        <div className="card">
          <h2>Private by default</h2>
          <p className="muted">Your patients are visible to you alone. Nothing is kept in your browser.</p>
        </div>
      </div>
    </section>
  );
}
