// Light / dark theme (Bootstrap 5.3 data-bs-theme): the saved choice, else the system's. Loaded in <head> so
// that the page is painted in its theme from the start; the navbar button switches and saves it.
'use strict';

(() => {
  const KEY = 'maskdetect-theme';
  const saved = (() => {
    try {
      return localStorage.getItem(KEY);
    } catch (e) {
      return null;
    }
  })();
  const system = window.matchMedia && window.matchMedia('(prefers-color-scheme: light)').matches ? 'light' : 'dark';
  document.documentElement.dataset.bsTheme = saved === 'light' || saved === 'dark' ? saved : system;

  function label(button) {
    const other = document.documentElement.dataset.bsTheme === 'dark' ? 'light' : 'dark';
    button.textContent = other === 'light' ? 'Light' : 'Dark';
    button.setAttribute('aria-label', `Switch to the ${other} theme`);
  }
  document.addEventListener('DOMContentLoaded', () => {
    const button = document.getElementById('theme-toggle');
    label(button);
    button.addEventListener('click', () => {
      const next = document.documentElement.dataset.bsTheme === 'dark' ? 'light' : 'dark';
      document.documentElement.dataset.bsTheme = next;
      try {
        localStorage.setItem(KEY, next);
      } catch (e) {
        // private mode: the choice lasts for this page only
      }
      label(button);
      document.dispatchEvent(new CustomEvent('maskdetect:theme', { detail: next }));
    });
  });
})();
