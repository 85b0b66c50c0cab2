export function Alert({ kind, children }: { kind: 'error' | 'info' | 'success'; children: React.ReactNode }) {
  return (
    <div className={`alert ${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </div>
  );
}
