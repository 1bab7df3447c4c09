/** A Playwright reporter that repeats each failure's message after the summary, where a log's tail still shows it. */
import type { FullResult, Reporter, TestCase, TestResult } from '@playwright/test/reporter';

const MAX_LINES = 40;
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

export default class LastWords implements Reporter {
  private failures: string[] = [];

  onTestEnd(test: TestCase, result: TestResult): void {
    if (result.status === 'passed' || result.status === 'skipped') return;
    const message = (result.error?.message ?? result.status).replace(ANSI, '');
    const lines = message.split('\n');
    const shown = lines.slice(0, MAX_LINES).join('\n') + (lines.length > MAX_LINES ? `\n… ${lines.length - MAX_LINES} more lines` : '');
    this.failures.push(`${test.titlePath().filter(Boolean).join(' › ')}\n${shown}`);
  }

  onEnd(_result: FullResult): void {
    if (this.failures.length === 0) return;
    console.log(`\nWhat failed, once more:\n\n${this.failures.join('\n\n')}`);
  }
}
