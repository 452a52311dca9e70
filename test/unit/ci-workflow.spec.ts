/**
 * docs/ci/github-actions.yml, the workflow a team copies: it installs Pulumi with the official step, installs the
 * project and the policy pack, and runs commands this repository has, with flags they accept.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import * as semver from "semver";
import { parseArgs } from "../../automation/cli";
import { confirmationProblem, requestProblems } from "../../automation/pipeline";
import { checkCliVersion, pipelineCliRequirement, toolchainVariable } from "../../automation/toolchain";
import { projectRoot } from "../support/fixtures";

interface Step {
    readonly name?: string;
    readonly uses?: string;
    readonly run?: string;
    readonly with?: Record<string, unknown>;
    readonly env?: Record<string, unknown>;
}

interface Job {
    readonly "runs-on": string;
    readonly steps: Step[];
}

const workflowFile = path.join(projectRoot, "docs", "ci", "github-actions.yml");
const workflow = yaml.load(fs.readFileSync(workflowFile, "utf8")) as { on: Record<string, unknown>; env?: Record<string, unknown>; jobs: Record<string, Job> };
const packageJson = JSON.parse(fs.readFileSync(path.join(projectRoot, "package.json"), "utf8")) as { scripts: Record<string, string>; engines: { node: string } };

/** Each command of a `run:` block as words (the commands here use no quoting a simple split would break). */
function commands(run: string): string[][] {
    return run
        .replace(/\\\n/g, " ")
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => line !== "" && !line.startsWith("#"))
        .map((line) => line.match(/"[^"]*"|'[^']*'|\S+/g) ?? []);
}

function steps(job: Job): { step: Step; index: number; words: string[] }[] {
    return job.steps.flatMap((step, index) => (step.run ? commands(step.run).map((words) => ({ step, index, words })) : []));
}

const failOnUsageError = { stdout: () => {}, stderr: (text: string) => assert.fail(`the pipeline CLI refused the workflow's arguments: ${text}`) };

describe("the GitHub Actions workflow a team copies (docs/ci/github-actions.yml)", () => {
    const jobs = Object.entries(workflow.jobs);

    it("runs on pull requests (preview) and pushes to main (up), each job on a hosted runner", () => {
        assert.deepEqual(Object.keys(workflow.on).sort(), ["pull_request", "push"]);
        assert.deepEqual(jobs.map(([name]) => name), ["preview", "up"]);
        for (const [, job] of jobs) assert.equal(job["runs-on"], "ubuntu-latest");
    });

    it("installs the Pulumi CLI with the official pulumi/actions step (install only), at a version the pipeline accepts", () => {
        for (const [name, job] of jobs) {
            const setup = job.steps.filter((step) => step.uses?.startsWith("pulumi/actions@"));
            assert.equal(setup.length, 1, `${name}: one pulumi/actions step`);
            assert.match(setup[0].uses!, /^pulumi\/actions@v\d+$/, `${name}: pinned to a major version`);
            assert.equal(setup[0].with?.command, undefined, `${name}: the step only installs the CLI; the pipeline runs the stacks`);
            checkCliVersion(String(setup[0].with?.["pulumi-version"]), `of the ${name} job`, pipelineCliRequirement);
        }
    });

    it("uses the team's own toolchain: PAAS_TOOLCHAIN is set nowhere", () => {
        assert.ok(!fs.readFileSync(workflowFile, "utf8").split("\n").some((line) => !line.trim().startsWith("#") && line.includes(toolchainVariable)));
    });

    it("sets up a Node.js the project supports, then npm ci of the project and of each policy pack before the pipeline runs", () => {
        for (const [name, job] of jobs) {
            const node = job.steps.find((step) => step.uses?.startsWith("actions/setup-node@"));
            assert.ok(node, `${name}: actions/setup-node`);
            const major = semver.coerce(String(node.with?.["node-version"]))!;
            assert.ok(semver.satisfies(`${major.major}.99.0`, packageJson.engines.node), `${name}: node ${major} vs engines ${packageJson.engines.node}`);
            const runs = steps(job);
            const pipeline = runs.find(({ words }) => words[0] === "npm" && words[1] === "run" && words[2] === "pipeline");
            assert.ok(pipeline, `${name}: runs the pipeline`);
            const installs = runs.filter(({ words }) => words[0] === "npm" && words[1] === "ci");
            const prefixes = installs.map(({ words }) => (words.includes("--prefix") ? words[words.indexOf("--prefix") + 1] : "."));
            assert.ok(prefixes.includes("."), `${name}: npm ci of the project`);
            for (const { index, words } of installs) {
                assert.ok(index < pipeline.index, `${name}: npm ci before the pipeline`);
                const dir = words.includes("--prefix") ? words[words.indexOf("--prefix") + 1] : ".";
                assert.ok(fs.existsSync(path.join(projectRoot, dir, "package-lock.json")), `${name}: npm ci --prefix ${dir} needs ${dir}/package-lock.json`);
            }
            const pulumiSetup = job.steps.findIndex((step) => step.uses?.startsWith("pulumi/actions@"));
            assert.ok(pulumiSetup < pipeline.index, `${name}: the CLI is installed before the pipeline runs`);
            const args = pipeline.words.slice(pipeline.words.indexOf("--") + 1);
            for (const pack of args.flatMap((word, i) => (word === "--policy-pack" ? [args[i + 1]] : []))) {
                assert.ok(prefixes.includes(pack), `${name}: npm ci --prefix ${pack} for --policy-pack ${pack}`);
            }
        }
    });

    it("every npm script it runs exists in package.json, and the pipeline accepts the flags it passes (non-interactive, stacks that exist)", async () => {
        const checked: string[] = [];
        for (const [name, job] of jobs) {
            for (const { words } of steps(job)) {
                if (words[0] !== "npm" || words[1] !== "run") continue;
                const script = words[2];
                assert.ok(packageJson.scripts[script], `${name}: npm run ${script} is not a script of package.json`);
                if (script !== "pipeline") continue;
                assert.equal(words[3], "--", `${name}: npm run pipeline passes its arguments after --`);
                const parsed = await parseArgs(words.slice(4), failOnUsageError);
                assert.ok(parsed.invocation, `${name}: ${words.join(" ")}`);
                const invocation = { ...parsed.invocation, cwd: projectRoot, policyPacks: parsed.invocation.policyPacks.map((pack) => path.resolve(projectRoot, path.relative(process.cwd(), pack))) };
                assert.deepEqual(requestProblems(invocation), [], `${name}: ${words.join(" ")}`);
                assert.equal(confirmationProblem(invocation.operation, invocation.stacks, invocation.yes, false), undefined, `${name}: a runner has no terminal, so a mutating command needs --yes`);
                for (const stack of invocation.stacks) assert.ok(fs.existsSync(path.join(projectRoot, `Pulumi.${stack}.yaml`)), `${name}: Pulumi.${stack}.yaml`);
                checked.push(`${name}: ${invocation.operation} ${invocation.stacks.join(" ")}`);
            }
        }
        assert.deepEqual(checked, ["preview: preview dev prod", "up: up dev prod"]);
    });
});
