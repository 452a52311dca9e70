import { strict as assert } from "assert";
import { completedBlockRange, openMetricsGauge, ulidAt } from "../support/tsdb";

describe("test TSDB data: block ranges, OpenMetrics, ULIDs", () => {
    const hour = 3600_000;

    it("the completed block range is the newest aligned 2h range that ended at least the given age ago", () => {
        const now = Date.UTC(2026, 0, 1, 13, 30);
        assert.deepEqual(completedBlockRange(now, hour), { start: Date.UTC(2026, 0, 1, 10), end: Date.UTC(2026, 0, 1, 12) });
        assert.deepEqual(completedBlockRange(now, 2 * hour), { start: Date.UTC(2026, 0, 1, 8), end: Date.UTC(2026, 0, 1, 10) });
    });

    it("writes one sample per series and step, with timestamps in seconds, ending with # EOF", () => {
        const text = openMetricsGauge("m", [{ labels: { s: "a" }, value: (i) => i * 2 }], { start: 60_000, end: 120_000 }, 30_000);
        assert.equal(text, '# HELP m Backfilled by the e2e tests.\n# TYPE m gauge\nm{s="a"} 0 60\nm{s="a"} 2 90\n# EOF\n');
    });

    it("a ULID carries its time in the first 10 Crockford base32 characters (the ulid package's documented example)", () => {
        const id = ulidAt(1469918176385);
        assert.match(id, /^01ARYZ6S41[0-9A-HJKMNP-TV-Z]{16}$/);
        assert.notEqual(ulidAt(0), ulidAt(0));
    });
});
