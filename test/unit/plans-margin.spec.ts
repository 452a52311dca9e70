import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { advertisedLoad } from "../../bench/sizing/catalog";
import { benchPrometheusArgs } from "../../bench/sizing/prometheus";
import { deriveFigures, margin } from "../../bench/sizing/projection";
import { MeasurementsFile, summaryTable } from "../../bench/sizing/report";
import { shapeFor } from "../../bench/workload/model";
import { builtinPlans, Plan } from "../../components/plans";

// The catalog against the committed measurements of `npm run bench:plans`: a plan edit (figures, limits,
// advertised load) or a change of the rendered flags without a new measurement fails here.
const root = path.resolve(__dirname, "..", "..");
const measurementsFile = path.join(root, "bench", "results", "plans.json");
const rerun = "re-run 'npm run bench:plans' on a quiet machine and commit bench/results/plans.json and docs/plans.*";
let loaded: MeasurementsFile | undefined;

function measurements(): MeasurementsFile {
    if (!fs.existsSync(measurementsFile)) assert.fail(`${measurementsFile} is missing; ${rerun}`);
    loaded ??= JSON.parse(fs.readFileSync(measurementsFile, "utf8")) as MeasurementsFile;
    return loaded;
}

/** Plan fields that change what Prometheus does; the memory and tmpfs budgets are checked by the margin instead. */
const measuredFields = ["retentionTime", "retentionSizeMiB", "scrapeInterval", "sampleLimit", "labelLimit", "targetLimit"] as const satisfies readonly (keyof Plan)[];

/** The flags without this run's paths and port, in a fixed order (Prometheus reads them as a set). */
function sizingFlags(flags: readonly string[]): string[] {
    return flags.filter((flag) => !/^--(config\.file|storage\.tsdb\.path|web\.listen-address)=/.test(flag)).sort();
}

describe("plan catalog against its measurements (bench/results/plans.json)", () => {
    it("holds a full run of every built-in plan", () => {
        const file = measurements();
        assert.equal(file.quick, false, `the measurements come from --quick; ${rerun}`);
        assert.deepEqual(file.measurements.map((measurement) => measurement.plan.name).sort(), Object.keys(builtinPlans).sort(), rerun);
    });

    it("docs/plans.md shows the verdicts of these measurements against the catalog", () => {
        const docs = fs.readFileSync(path.join(root, "docs", "plans.md"), "utf8");
        const figures = measurements().measurements.map((measurement) => deriveFigures(measurement));
        assert.ok(docs.includes(summaryTable(figures)), `docs/plans.md is stale; ${rerun}`);
        assert.ok(fs.existsSync(path.join(root, "docs", "plans.png")));
    });

    for (const plan of Object.values(builtinPlans)) {
        describe(plan.name, () => {
            const measurement = () => {
                const found = measurements().measurements.find((candidate) => candidate.plan.name === plan.name);
                assert.ok(found, `plan ${plan.name} has no measurement; ${rerun}`);
                return found;
            };

            it("was measured with its current limits, retention and scrape interval, and the flags rendered now", () => {
                const measured = measurement();
                for (const field of measuredFields) {
                    assert.equal(measured.plan[field], plan[field], `${plan.name}.${field} is ${plan[field]} but was measured as ${measured.plan[field]}; ${rerun}`);
                }
                assert.deepEqual(sizingFlags(measured.flags), sizingFlags(benchPrometheusArgs(plan, "/c", "/t", 1)), `the rendered Prometheus flags changed; ${rerun}`);
            });

            it("was measured at the load its description advertises", () => {
                const load = advertisedLoad(plan);
                assert.deepEqual(measurement().shape, shapeFor(load.series, load.targets, measurement().shape.churnPerMinute), `${plan.name} advertises ${load.series} series over ${load.targets} targets; ${rerun}`);
            });

            it(`keeps peak RSS and the projected TSDB within ${100 * margin} % of its process memory and tmpfs`, () => {
                const figures = deriveFigures(measurement(), plan);
                assert.ok(figures.rssShare <= margin, `${plan.name}: peak RSS ${(figures.peakRss / 2 ** 20).toFixed(0)} MiB is ${(100 * figures.rssShare).toFixed(0)} % of memoryMiB ${plan.memoryMiB}`);
                assert.ok(figures.tmpfsShare <= margin, `${plan.name}: projected TSDB ${(figures.projection.totalBytes / 2 ** 20).toFixed(0)} MiB is ${(100 * figures.tmpfsShare).toFixed(0)} % of tmpfsMiB ${plan.tmpfsMiB}`);
                assert.deepEqual(figures.problems, []);
            });
        });
    }
});
