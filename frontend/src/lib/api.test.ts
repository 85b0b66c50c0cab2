import { describe, expect, it } from 'vitest';
import { parseErrorBody, readCookie } from './api';

describe('api helpers', () => {
  it('reads a cookie value among others', () => {
    expect(readCookie('dimini_csrf', 'a=1; dimini_csrf=abc%3D; b=2')).toBe('abc=');
    expect(readCookie('dimini_csrf', 'a=1')).toBeNull();
  });

  it('turns FastAPI 422 details into field messages', () => {
    const parsed = parseErrorBody(422, {
      detail: [
        { loc: ['body', 'name'], msg: 'String should have at least 1 character' },
        { loc: ['body', 'demographics', 'age'], msg: 'Value error, too old' },
      ],
    });
    expect(parsed.fieldErrors).toEqual({ name: 'String should have at least 1 character', 'demographics.age': 'too old' });
  });

  it('keeps a string detail as the message and falls back per status', () => {
    expect(parseErrorBody(409, { detail: 'Email already registered' }).message).toBe('Email already registered');
    expect(parseErrorBody(503, 'oops').message).toMatch(/unavailable/);
  });
});
