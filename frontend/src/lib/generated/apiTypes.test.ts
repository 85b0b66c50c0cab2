// The committed TypeScript of the backend's contract is what openapi-typescript makes of the
// committed JSON (whose own drift from the backend is checked by tests/backend/test_api_types.py).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error -- a plain Node script without type declarations
import { readDocument, renderTypes, staleTypes } from '../../../scripts/api-types.mjs';

const committed = (name: string) => readFileSync(path.join(import.meta.dirname, `${name}.ts`), 'utf8');

describe('generated API types', () => {
  it('match the committed OpenAPI and Socket.IO documents', async () => {
    expect(await staleTypes()).toEqual([]);
  }, 60_000);

  it('differ when the OpenAPI changes without regenerating', async () => {
    const document = readDocument('openapi');
    delete document.paths['/api/search'];
    const types: string = await renderTypes('openapi', document);
    expect(types).not.toEqual(committed('openapi'));
    expect(committed('openapi')).toContain('"/api/search"');
    expect(types).not.toContain('"/api/search"');
  }, 60_000);
});
