/**
 * The ECS configuration rollout's record through the REAL engine and file backend: the pipeline (runPipeline with the
 * inline stack source) runs `up` on a stack whose program exports `ecsConfigUpdateCommands` as the ECS half does,
 * with a fake rollout in place of the AWS CLI (no AWS here). What rolled out is recorded in the stack's tags, which
 * the backend keeps with the stack: a failed rollout is retried by the next run, a rolled-out one never again.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { inlineStackSource } from "../../automation/engine";
import { defaultSleep, PipelineRequest, runPipeline } from "../../automation/pipeline";
import { ConfigRollout, ConfigUpdate, ConfigUpdateResult, recordedConfigHashes } from "../../automation/rollout";
import type { PipelineSummary } from "../../automation/summary";
import { engineEnvVars, toolDirs } from "../../automation/tools";
import { EngineSandbox } from "../support/engine";

class FakeRollout implements ConfigRollout {
    readonly ran: ConfigUpdate[] = [];
    failing = new Set<string>();

    async run(update: ConfigUpdate): Promise<ConfigUpdateResult> {
        this.ran.push(update);
        if (this.failing.has(update.instance)) return { instance: update.instance, result: "failed", taskArn: "arn:aws:ecs:us-east-1:1:task/c/failed", message: "the config-update container failed (exit code 1)" };
        return { instance: update.instance, result: "ok", taskArn: "arn:aws:ecs:us-east-1:1:task/c/ok", message: "configuration copied onto EFS" };
    }
}

const command = (instance: string, hash: string) => `aws ecs run-task --region us-east-1 --cluster c --task-definition prometheus-ecs-${instance}-config-update:1 --started-by config-${hash}`;

describe("engine: ECS config rollouts converge: the pipeline records what rolled out in the stack's tags and retries the rest", function () {
    this.timeout(5 * 60_000);
    const sandbox = new EngineSandbox();
    const stack = "ecs";
    const rollout = new FakeRollout();
    let commands: Record<string, string> = { billing: command("billing", "1111"), ledger: command("ledger", "2222") };
    const log: string[] = [];
    const up = (): Promise<PipelineSummary> => {
        const request: PipelineRequest = { operation: "up", stacks: [stack], workDir: sandbox.workDir, policyPacks: [], create: true, lockTimeoutSeconds: 0, keepGoing: false };
        const source = inlineStackSource({ program: async () => ({ ecsConfigUpdateCommands: commands }), envVars: sandbox.envVars });
        return runPipeline(request, { source, log: (text) => log.push(text), now: Date.now, sleep: defaultSleep, random: Math.random, rollout });
    };
    /** The stack's tags as the Pulumi CLI lists them from the backend (not the pipeline's own reading). */
    const cliTags = (): Record<string, string> => {
        const pulumi = `${toolDirs.pulumi}/pulumi`;
        const result = spawnSync(pulumi, ["stack", "tag", "ls", "--json", "--stack", stack], { cwd: sandbox.workDir, env: { ...process.env, ...engineEnvVars(), ...sandbox.envVars }, encoding: "utf8" });
        assert.equal(result.status, 0, result.stderr);
        return JSON.parse(result.stdout);
    };
    const context = (summary: PipelineSummary) => `${JSON.stringify(summary.stacks[0], null, 2)}\n--- log ---\n${log.join("").slice(-4000)}`;

    before(() => {
        // The project's required config values; the inline program here reads none of them.
        sandbox.copyStackFile("local", () => {}, stack);
    });

    after(() => sandbox.cleanup());

    it("a failed rollout: the up exits non-zero and the stack records only the instance that rolled out", async () => {
        rollout.failing = new Set(["billing"]);
        const summary = await up();
        assert.equal(summary.exitCode, 1, context(summary));
        assert.equal(summary.stacks[0].error?.kind, "rollout", context(summary));
        assert.deepEqual(rollout.ran.map((update) => update.instance), ["billing", "ledger"]);
        assert.deepEqual(recordedConfigHashes(cliTags()), { ledger: "config-2222" });
    });

    it("the rerun retries the failed rollout (nothing else), succeeds and records it", async () => {
        rollout.failing = new Set();
        rollout.ran.length = 0;
        const summary = await up();
        assert.equal(summary.exitCode, 0, context(summary));
        assert.deepEqual(summary.stacks[0].changes, { same: 1 }, "nothing changed in the stack itself");
        assert.deepEqual(rollout.ran.map((update) => update.instance), ["billing"]);
        assert.deepEqual(recordedConfigHashes(cliTags()), { billing: "config-1111", ledger: "config-2222" });
    });

    it("a third run does nothing; a new config hash rolls out that instance only; a removed instance's record goes", async () => {
        rollout.ran.length = 0;
        const third = await up();
        assert.equal(third.exitCode, 0, context(third));
        assert.equal(third.stacks[0].configUpdates, undefined);
        assert.equal(rollout.ran.length, 0, "no update ran");

        commands = { billing: command("billing", "3333") };
        const changed = await up();
        assert.equal(changed.exitCode, 0, context(changed));
        assert.deepEqual(rollout.ran.map((update) => [update.instance, update.configHash]), [["billing", "config-3333"]]);
        assert.deepEqual(recordedConfigHashes(cliTags()), { billing: "config-3333" });
    });
});
