/**
 * The real ECS rollout (AwsCliConfigRollout) against a fake `aws`/`sh` exec: what it runs, and how it reads the
 * answers of run-task, the waiter and describe-tasks (shapes of the AWS CLI's JSON output).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { AwsCliConfigRollout, configHashOf, Exec, ExecResult, pendingConfigUpdates, recordedConfigHashes, rolloutTagName, rolloutTagValue, staleRecords } from "../../automation/rollout";
import { runTaskCommand } from "../../components/aws/ecs";
import { configUpdateStartedBy } from "../../components/prometheus/ecs-spec";
import { resolve } from "../support/mocks";

const command = "aws ecs run-task --region us-east-1 --cluster arn:aws:ecs:us-east-1:111122223333:cluster/c --launch-type FARGATE --task-definition td:3 --started-by config-0123456789abcdef";
const taskArn = "arn:aws:ecs:eu-west-1:111122223333:task/c/0f1e2d3c";
const clusterArn = "arn:aws:ecs:eu-west-1:111122223333:cluster/c";

function fakeExec(answers: ExecResult[]): Exec & { calls: { file: string; args: readonly string[] }[] } {
    const calls: { file: string; args: readonly string[] }[] = [];
    const exec = async (file: string, args: readonly string[]) => {
        calls.push({ file, args });
        const answer = answers.shift();
        if (answer === undefined) throw new Error(`unexpected call ${file} ${args.join(" ")}`);
        return answer;
    };
    return Object.assign(exec, { calls });
}

const ok = (value: unknown): ExecResult => ({ code: 0, stdout: JSON.stringify(value), stderr: "" });
const started = ok({ tasks: [{ taskArn, clusterArn, lastStatus: "PROVISIONING" }], failures: [] });
const stopped = (exitCode: number | undefined, stoppedReason = "Essential container in task exited") =>
    ok({ tasks: [{ taskArn, stoppedReason, containers: [{ name: "config-update", exitCode, lastStatus: "STOPPED" }] }], failures: [] });

const update = { instance: "billing", command, configHash: "config-0123456789abcdef" };

describe("ECS config rollout through the AWS CLI", () => {
    it("runs the stack's command, waits for the task to stop, and reads the copy's exit code", async () => {
        const exec = fakeExec([started, { code: 0, stdout: "", stderr: "" }, stopped(0)]);
        const result = await new AwsCliConfigRollout(exec).run(update);
        assert.deepEqual(result, { instance: "billing", result: "ok", taskArn, message: "configuration copied onto EFS; the sidecar reloads Prometheus at its next check" });
        assert.deepEqual(exec.calls, [
            { file: "sh", args: ["-c", `${command} --output json`] },
            { file: "aws", args: ["ecs", "wait", "tasks-stopped", "--region", "eu-west-1", "--cluster", clusterArn, "--tasks", taskArn] },
            { file: "aws", args: ["ecs", "describe-tasks", "--region", "eu-west-1", "--cluster", clusterArn, "--tasks", taskArn, "--output", "json"] },
        ]);
    });

    it("fails with ECS' reasons when it starts no task", async () => {
        const exec = fakeExec([ok({ tasks: [], failures: [{ arn: "arn:aws:ecs:us-east-1:1:container-instance/x", reason: "RESOURCE:MEMORY" }] })]);
        const result = await new AwsCliConfigRollout(exec).run(update);
        assert.equal(result.result, "failed");
        assert.match(result.message, /ECS started no task: RESOURCE:MEMORY arn:aws:ecs/);
        assert.equal(result.taskArn, null);
    });

    it("fails with the CLI's error when run-task exits non-zero", async () => {
        const exec = fakeExec([{ code: 254, stdout: "", stderr: "An error occurred (AccessDeniedException) when calling the RunTask operation: not authorized\n" }]);
        const result = await new AwsCliConfigRollout(exec).run(update);
        assert.match(result.message, /aws ecs run-task failed \(exit 254\): An error occurred \(AccessDeniedException\)/);
    });

    it("fails when the copy exits non-zero, or the waiter gives up, naming the task", async () => {
        const copyFailed = await new AwsCliConfigRollout(fakeExec([started, ok({}), stopped(1)])).run(update);
        assert.deepEqual([copyFailed.result, copyFailed.taskArn], ["failed", taskArn]);
        assert.match(copyFailed.message, /the config-update container failed \(exit code 1, Essential container in task exited\)/);
        const neverStopped = await new AwsCliConfigRollout(fakeExec([started, { code: 255, stdout: "", stderr: "Waiter TasksStopped failed: Max attempts exceeded" }])).run(update);
        assert.match(neverStopped.message, /did not stop within the AWS CLI waiter's time \(exit 255\): Waiter TasksStopped failed/);
    });
});

describe("ECS config rollout with real processes (a stand-in aws on PATH)", () => {
    it("runs the command through sh and the AWS CLI calls as processes", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fake-aws-"));
        const log = path.join(dir, "calls.log");
        fs.writeFileSync(path.join(dir, "aws"), [
            "#!/bin/sh",
            `echo "$*" >> '${log}'`,
            'case "$2" in',
            `  run-task) echo '{"tasks":[{"taskArn":"${taskArn}","clusterArn":"${clusterArn}"}],"failures":[]}' ;;`,
            "  wait) exit 0 ;;",
            `  describe-tasks) echo '{"tasks":[{"containers":[{"name":"config-update","exitCode":0}]}]}' ;;`,
            "esac",
        ].join("\n"), { mode: 0o755 });
        const path0 = process.env.PATH;
        process.env.PATH = `${dir}${path.delimiter}${path0}`;
        try {
            const result = await new AwsCliConfigRollout().run({ ...update, command: `${command} --network-configuration 'awsvpcConfiguration={subnets=[subnet-1],securityGroups=[sg-1],assignPublicIp=DISABLED}'` });
            assert.equal(result.result, "ok", result.message);
        } finally {
            process.env.PATH = path0;
        }
        const calls = fs.readFileSync(log, "utf8").trim().split("\n");
        assert.equal(calls.length, 3);
        assert.match(calls[0], /^ecs run-task .* --network-configuration awsvpcConfiguration=\{subnets=\[subnet-1\],securityGroups=\[sg-1\],assignPublicIp=DISABLED\} --output json$/);
        assert.match(calls[1], /^ecs wait tasks-stopped --region eu-west-1/);
    });
});

describe("the ECS rollout record: which instances an up leaves to update", () => {
    const outputs = (commands: Record<string, string>) => ({ ecsConfigUpdateCommands: commands });
    const run = (hash: string) => `aws ecs run-task --cluster c --task-definition td:1 --started-by ${hash}`;

    it("the config hash is the command's --started-by, as the component builds it", async () => {
        const startedBy = configUpdateStartedBy({ "prometheus.yml.tmpl": "global: {}\n" });
        const context = { region: "us-east-1", clusterArn: "arn:aws:ecs:us-east-1:1:cluster/c", subnetIds: ["subnet-1"] } as unknown as Parameters<typeof runTaskCommand>[0];
        assert.equal(configHashOf(await resolve(runTaskCommand(context, "td:1", "sg-1", startedBy))), startedBy);
        assert.match(configHashOf("aws ecs run-task --cluster c"), /^command-[0-9a-f]{16}$/, "a command without --started-by is known by its own hash");
    });

    it("every instance whose current hash is not the recorded one, new instances included; none without the output", () => {
        const deployed = outputs({ a: run("config-1"), b: run("config-3"), c: run("config-4") });
        assert.deepEqual(pendingConfigUpdates(deployed, { a: "config-1", b: "config-2" }).map((pending) => [pending.instance, pending.configHash]), [["b", "config-3"], ["c", "config-4"]]);
        assert.deepEqual(pendingConfigUpdates(deployed, { a: "config-1", b: "config-3", c: "config-4" }), []);
        assert.deepEqual(pendingConfigUpdates({}, { a: "config-1" }), []);
        assert.deepEqual(staleRecords(outputs({ b: run("config-3") }), { a: "config-1", b: "config-3" }), ["a"]);
    });

    it("records one stack tag per instance within the Pulumi Cloud's tag rules, and reads back only its own", () => {
        const longest = "a".repeat(40);
        for (const instance of ["billing", longest]) {
            assert.match(rolloutTagName(instance), /^[A-Za-z0-9\-_.:]{1,40}$/, instance);
            assert.ok(rolloutTagValue(instance, "config-0123456789abcdef").length <= 256);
        }
        const tags = {
            "pulumi:project": "prometheus-paas",
            [rolloutTagName("billing")]: rolloutTagValue("billing", "config-1"),
            [rolloutTagName(longest)]: rolloutTagValue(longest, "config-2"),
            [rolloutTagName("ledger")]: rolloutTagValue("billing", "config-9"),
        };
        assert.deepEqual(recordedConfigHashes(tags), { billing: "config-1", [longest]: "config-2" }, "a value naming another instance than its tag is ignored");
    });
});
