import { expect } from 'chai';
import { themeModule } from '../../src/dashboard/assets.ts';
import { DASHBOARD_THEME } from '../../src/cli/dashboard.ts';
import { formatCount, formatDeltaPp, formatDuration, formatPercent } from '../../src/cli/report/format.ts';
import { STAGE_COLORS } from '../../src/cli/report/seed-bands.ts';

describe('dashboard theme.js', () => {
  it("is report.html's colours and formatters, and its functions compute what the originals compute", async () => {
    const source = themeModule(DASHBOARD_THEME);
    const module = (await import(`data:text/javascript;base64,${Buffer.from(source).toString('base64')}`)) as Record<string, unknown>;
    expect(module['STAGE_COLORS']).to.deep.equal(STAGE_COLORS);
    const f = module as unknown as { formatPercent: typeof formatPercent; formatCount: typeof formatCount; formatDuration: typeof formatDuration; formatDeltaPp: typeof formatDeltaPp };
    for (const value of [0, 0.12345, 1, Number.NaN]) expect(f.formatPercent(value)).to.equal(formatPercent(value));
    for (const value of [0, 999, 1234567, -98765]) expect(f.formatCount(value)).to.equal(formatCount(value));
    for (const value of [5, 1500, 95_000, 7_400_000, -1]) expect(f.formatDuration(value)).to.equal(formatDuration(value));
    expect(f.formatDeltaPp(0.5, 0.531)).to.equal(formatDeltaPp(0.5, 0.531));
  });
});
