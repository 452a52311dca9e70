import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { flushFigures, flushSection, flushTable, FlushResults, readFlushResults } from "../../bench/sizing/flush-report";
import { margin } from "../../bench/sizing/projection";
import { builtinPlans } from "../../components/plans";
import { maxStopTimeoutSeconds } from "../../components/aws/containers";
import { ecsFlushBudget } from "../../components/prometheus/ecs-spec";
import { flushDeadlineSeconds } from "../../components/prometheus/flush";
import { prometheusStatefulSetSpec } from "../../components/prometheus/kubernetes-spec";
import { kubernetesInstance, minimalConfig } from "../support/fixtures";

// The flush budget against the committed measurements of `npm run bench:flush`: the deadline each plan's pods
// get must cover a full head's flush, and its block must fit the tmpfs room the retention size leaves.
const root = path.resolve(__dirname, "..", "..");
const rerun = "re-run 'npm run bench:flush' on a quiet machine and commit bench/results/flush.json, docs/plans.md and README.md";
let loaded: FlushResults | undefined;
const results = () => (loaded ??= readFlushResults());

describe("shutdown flush budget against its measurements (bench/results/flush.json)", () => {
    it("holds a run of every built-in plan at its advertised series", () => {
        assert.deepEqual(results().measurements.map((measurement) => measurement.plan).sort(), Object.keys(builtinPlans).sort(), rerun);
        for (const measurement of results().measurements) assert.ok(measurement.headSeries >= measurement.series, `${measurement.plan}: the head held ${measurement.headSeries} of ${measurement.series} series`);
    });

    for (const figures of flushFigures(results())) {
        it(`${figures.plan}: the deadline covers a full head's projected flush and its block fits the tmpfs headroom, with margin`, () => {
            assert.deepEqual(figures.problems, []);
        });
    }

    it("each plan's pods get the deadline and a grace period of the deadline plus Prometheus' stop", () => {
        for (const plan of Object.values(builtinPlans)) {
            const spec = prometheusStatefulSetSpec({ ...kubernetesInstance(minimalConfig()), plan }, "objstore") as any;
            const figures = flushFigures(results()).find((candidate) => candidate.plan === plan.name)!;
            assert.equal(spec.template.spec.terminationGracePeriodSeconds, figures.gracePeriodSeconds, plan.name);
            const prometheus = spec.template.spec.containers.find((container: any) => container.name === "prometheus");
            assert.ok(prometheus.lifecycle.preStop.exec.command.includes(`--deadline=${flushDeadlineSeconds(plan)}`), plan.name);
        }
    });

    it("on ECS Fargate (stop timeout at most 120 s) each plan's capped deadline still covers a full head's projected flush, with margin", () => {
        for (const figures of flushFigures(results())) {
            const budget = ecsFlushBudget(builtinPlans[figures.plan]);
            assert.ok(budget.stopTimeout <= maxStopTimeoutSeconds && budget.deadlineSeconds <= figures.deadlineSeconds, `${figures.plan}: ${JSON.stringify(budget)}`);
            assert.ok(figures.projectedSeconds <= margin * budget.deadlineSeconds, `${figures.plan}: a full head's flush is projected at ${figures.projectedSeconds.toFixed(1)} s, over ${100 * margin} % of the ${budget.deadlineSeconds} s an ECS task gets; ${rerun}`);
        }
    });

    it("docs/plans.md and the README show these measurements", () => {
        for (const file of ["docs/plans.md", "README.md"]) {
            assert.equal(flushSection(fs.readFileSync(path.join(root, file), "utf8"), file), flushTable(results()), `${file} is stale; ${rerun}`);
        }
    });
});
