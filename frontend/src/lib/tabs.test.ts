import { describe, expect, it } from 'vitest';
import { nextTabIndex } from './tabs';
import { pageTitle } from './pageTitle';

describe('tab keys', () => {
  it('move with the arrows, wrap, and jump with Home/End', () => {
    expect(nextTabIndex('ArrowRight', 0, 2)).toBe(1);
    expect(nextTabIndex('ArrowRight', 1, 2)).toBe(0);
    expect(nextTabIndex('ArrowLeft', 0, 3)).toBe(2);
    expect(nextTabIndex('Home', 2, 3)).toBe(0);
    expect(nextTabIndex('End', 0, 3)).toBe(2);
    expect(nextTabIndex('Enter', 0, 3)).toBeNull();
  });
});

describe('page titles', () => {
  it('follow the metadata template', () => {
    expect(pageTitle('Ada Lovelace')).toBe('Ada Lovelace · Dimini');
  });
});
