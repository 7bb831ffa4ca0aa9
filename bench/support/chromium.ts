/** Debian's Chromium, as the dashboard's tests and benchmark drive it (headless, software rendering). */
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];
