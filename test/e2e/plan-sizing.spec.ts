import { strict as assert } from "assert";
import { builtinPlans } from "../../components/plans";
import { measurePlan, PlanMeasurement } from "../../bench/sizing/measure";
import { deriveFigures } from "../../bench/sizing/projection";
import { shapeFor } from "../../bench/workload/model";

// The benchmark's machinery (bench/sizing) end to end, on one small configuration: the workload exporter and the
// real Prometheus with the small plan's rendered flags and files, a 2s scrape interval so a few scrapes take
// seconds, the TSDB in a plain directory (a tmpfs mount needs root). Fails, never skips, without prometheus.
describe("plan sizing machinery: workload exporter + real Prometheus", function () {
    this.timeout(180_000);
    const plan = { ...builtinPlans.small, scrapeInterval: "2s" };
    const shape = shapeFor(2_000, 4);
    let measurement: PlanMeasurement;

    before(async () => {
        measurement = await measurePlan({ plan, shape, steadySeconds: 8, sampleEveryMs: 1_000, tmpfs: false });
    });

    it("every series the exporter serves reaches Prometheus' head", () => {
        assert.equal(measurement.exporter.series, 2_000);
        assert.equal(measurement.health.workloadSeries, measurement.exporter.series);
        assert.equal(measurement.health.targetsUp, shape.targets);
        const headSeries = measurement.samples[measurement.samples.length - 1].headSeries;
        // Plus the 5 series Prometheus records per target and its self-scrape.
        assert.ok(headSeries >= measurement.exporter.series + 5 * shape.targets, `prometheus_tsdb_head_series ${headSeries}`);
        assert.ok(measurement.exporter.scrapes >= 3 * shape.targets, `the exporter served ${measurement.exporter.scrapes} scrapes`);
    });

    it("the readings give the plan's figures: ingestion keeps up, two growing snapshots, a restart", () => {
        const figures = deriveFigures(measurement, plan);
        assert.deepEqual(figures.problems, []);
        assert.ok(figures.samplesPerSecond >= 0.95 * figures.expectedSamplesPerSecond, `${figures.samplesPerSecond} of ${figures.expectedSamplesPerSecond} samples/s`);
        const [earlier, later] = measurement.snapshots;
        assert.ok(later.samples > earlier.samples && later.series >= measurement.exporter.series, JSON.stringify(measurement.snapshots));
        assert.ok(figures.bytesPerSample > 0.1 && figures.bytesPerSample < 16, `bytes per sample ${figures.bytesPerSample}`);
        assert.ok(figures.measuredPeakRss >= measurement.samples[0].rss && measurement.restart.peakRss > 0);
        assert.ok(figures.projection.totalBytes > figures.projection.preallocatedBytes);
        assert.ok(measurement.flags.includes(`--storage.tsdb.retention.time=${plan.retentionTime}`));
    });
});
