// `next build` leaves static assets outside the standalone folder; copy them in so
// `node .next/standalone/server.js` (and the production image) serves every page on its own.
import { cpSync, existsSync, rmSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const standalone = path.join(root, '.next', 'standalone');
if (!existsSync(path.join(standalone, 'server.js'))) {
  console.error('prepare-standalone: .next/standalone/server.js missing; is output: "standalone" set?');
  process.exit(1);
}
for (const [from, to] of [
  [path.join(root, '.next', 'static'), path.join(standalone, '.next', 'static')],
  [path.join(root, 'public'), path.join(standalone, 'public')],
]) {
  rmSync(to, { recursive: true, force: true });
  if (existsSync(from)) cpSync(from, to, { recursive: true });
}
console.log('prepare-standalone: static assets copied into .next/standalone');
