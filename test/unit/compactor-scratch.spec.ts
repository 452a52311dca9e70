import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { compactorScratchBytes, deriveFigures } from "../../bench/sizing/projection";
import { compactorScratchTable, MeasurementsFile } from "../../bench/sizing/report";
import { parseStackConfig } from "../../components/config/stack";
import { builtinPlans } from "../../components/plans";
import { thanosDefaults } from "../../components/thanos/defaults";
import { parseDurationSeconds, parseMiB } from "../../components/units";

// The compactor's default scratch against the measured rates of `npm run bench:plans`: a bucket whose largest
// instance is on any built-in plan must not run its compactor out of disk.
const root = path.resolve(__dirname, "..", "..");
const file = JSON.parse(fs.readFileSync(path.join(root, "bench", "results", "plans.json"), "utf8")) as MeasurementsFile;
const figures = file.measurements.map((measurement) => deriveFigures(measurement));
const gib = 2 ** 30;

describe("compactor scratch against the measured plans", () => {
    it("the default scratch (Kubernetes emptyDir or claim, ECS task storage) holds the two-week compaction of the largest built-in plan", () => {
        const largest = Math.max(...figures.map((f) => compactorScratchBytes(f, parseDurationSeconds(builtinPlans[f.plan].scrapeInterval)!)));
        const config = parseStackConfig({ environment: "t", region: "us-east-1", bucket: { type: "s3" } });
        const kubernetes = parseMiB(config.thanos.compactor.scratch.size)! * 2 ** 20;
        assert.ok(kubernetes >= largest, `thanos.compactor.scratch.size ${config.thanos.compactor.scratch.size} < ${(largest / gib).toFixed(1)} GiB`);
        assert.ok(thanosDefaults.compactor.diskGiB! * gib >= largest, `ECS compactorStorageGiB default ${thanosDefaults.compactor.diskGiB} GiB < ${(largest / gib).toFixed(1)} GiB`);
    });

    it("docs/plans.md shows the scratch table of these measurements", () => {
        const docs = fs.readFileSync(path.join(root, "docs", "plans.md"), "utf8");
        assert.ok(docs.includes(compactorScratchTable(figures)), "docs/plans.md is stale: run `npm run bench:plans -- --report-only bench/results/plans.json`");
    });
});
