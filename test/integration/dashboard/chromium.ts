/**
 * What the two browser suites share: Debian's chromium driven by
 * playwright-core (loaded at run time; the suites skip without it, unless
 * ESPER_REQUIRE_SERVICES=1, where they fail), the URL an `esper dashboard`
 * process prints, and a poller for what the page shows.
 */
import { existsSync } from 'node:fs';
import type { DaemonProcess } from '../../helpers/daemon.ts';

/** The chromium binary (ESPER_CHROMIUM overrides). */
export const CHROMIUM = process.env['ESPER_CHROMIUM'] ?? '/usr/bin/chromium';

interface ChromiumLauncher<B> {
  launch(options: { executablePath: string; args: string[]; headless: boolean }): Promise<B>;
}

/**
 * A function that starts headless chromium, typed as the caller's loose
 * `Browser` interface; skips the suite (or throws under
 * ESPER_REQUIRE_SERVICES=1) when playwright-core or chromium is missing.
 */
export async function chromiumOrSkip<B>(context: Mocha.Context): Promise<() => Promise<B>> {
  let chromium: ChromiumLauncher<B> | undefined;
  try {
    chromium = ((await import('playwright-core')) as unknown as { chromium: ChromiumLauncher<B> }).chromium;
  } catch {
    chromium = undefined;
  }
  if (chromium === undefined || !existsSync(CHROMIUM)) {
    const message = chromium === undefined ? 'playwright-core is not installed' : `no chromium at ${CHROMIUM}`;
    if (process.env['ESPER_REQUIRE_SERVICES'] === '1') throw new Error(`${message} (ESPER_REQUIRE_SERVICES=1)`);
    context.skip();
  }
  const launcher = chromium;
  return () => launcher.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'], headless: true });
}

/** The URL `esper dashboard` printed on its stdout; throws with its stderr after `timeoutMs`. */
export async function dashboardUrl(dashboard: DaemonProcess, timeoutMs = 60_000): Promise<string> {
  const pattern = /dashboard: (http:\S+)/;
  const started = Date.now();
  while (!pattern.test(dashboard.stdoutText)) {
    if (Date.now() - started > timeoutMs) throw new Error(`esper dashboard did not start: ${dashboard.stderrText.slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return pattern.exec(dashboard.stdoutText)?.[1] ?? '';
}

/**
 * Polls `read` every 100 ms (node side: the page's CSP forbids evaluated
 * strings) until `ok` holds for its value; a read that throws counts as "not
 * yet". Throws after `timeoutMs`, naming `what` and the last value.
 */
export async function untilShown<T>(read: () => T | Promise<T>, ok: (value: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await Promise.resolve().then(read).catch(() => undefined);
    if (value !== undefined && ok(value)) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${JSON.stringify(value)})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
