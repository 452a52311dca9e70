/**
 * The real ECS rollout (AwsCliConfigRollout) against a fake `aws`/`sh` exec: what it runs, and how it reads the
 * answers of run-task, the waiter and describe-tasks (shapes of the AWS CLI's JSON output).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { AwsCliConfigRollout, changedConfigUpdates, Exec, ExecResult } from "../../automation/rollout";

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

describe("ECS config rollout through the AWS CLI", () => {
    it("runs the stack's command, waits for the task to stop, and reads the copy's exit code", async () => {
        const exec = fakeExec([started, { code: 0, stdout: "", stderr: "" }, stopped(0)]);
        const result = await new AwsCliConfigRollout(exec).run({ instance: "billing", command });
        assert.deepEqual(result, { instance: "billing", result: "ok", taskArn, message: "configuration copied onto EFS; the sidecar reloads Prometheus at its next check" });
        assert.deepEqual(exec.calls, [
            { file: "sh", args: ["-c", `${command} --output json`] },
            { file: "aws", args: ["ecs", "wait", "tasks-stopped", "--region", "eu-west-1", "--cluster", clusterArn, "--tasks", taskArn] },
            { file: "aws", args: ["ecs", "describe-tasks", "--region", "eu-west-1", "--cluster", clusterArn, "--tasks", taskArn, "--output", "json"] },
        ]);
    });

    it("fails with ECS' reasons when it starts no task", async () => {
        const exec = fakeExec([ok({ tasks: [], failures: [{ arn: "arn:aws:ecs:us-east-1:1:container-instance/x", reason: "RESOURCE:MEMORY" }] })]);
        const result = await new AwsCliConfigRollout(exec).run({ instance: "billing", command });
        assert.equal(result.result, "failed");
        assert.match(result.message, /ECS started no task: RESOURCE:MEMORY arn:aws:ecs/);
        assert.equal(result.taskArn, null);
    });

    it("fails with the CLI's error when run-task exits non-zero", async () => {
        const exec = fakeExec([{ code: 254, stdout: "", stderr: "An error occurred (AccessDeniedException) when calling the RunTask operation: not authorized\n" }]);
        const result = await new AwsCliConfigRollout(exec).run({ instance: "billing", command });
        assert.match(result.message, /aws ecs run-task failed \(exit 254\): An error occurred \(AccessDeniedException\)/);
    });

    it("fails when the copy exits non-zero, or the waiter gives up, naming the task", async () => {
        const copyFailed = await new AwsCliConfigRollout(fakeExec([started, ok({}), stopped(1)])).run({ instance: "billing", command });
        assert.deepEqual([copyFailed.result, copyFailed.taskArn], ["failed", taskArn]);
        assert.match(copyFailed.message, /the config-update container failed \(exit code 1, Essential container in task exited\)/);
        const neverStopped = await new AwsCliConfigRollout(fakeExec([started, { code: 255, stdout: "", stderr: "Waiter TasksStopped failed: Max attempts exceeded" }])).run({ instance: "billing", command });
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
            const result = await new AwsCliConfigRollout().run({ instance: "billing", command: `${command} --network-configuration 'awsvpcConfiguration={subnets=[subnet-1],securityGroups=[sg-1],assignPublicIp=DISABLED}'` });
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

describe("which ECS instances an up changed", () => {
    const outputs = (commands: Record<string, string>) => ({ ecsConfigUpdateCommands: commands });

    it("those whose command changed; not new ones, not unchanged ones, none without the output", () => {
        assert.deepEqual(changedConfigUpdates(outputs({ a: "1", b: "2" }), outputs({ a: "1", b: "3", c: "4" })), [{ instance: "b", command: "3" }]);
        assert.deepEqual(changedConfigUpdates({}, {}), []);
        assert.deepEqual(changedConfigUpdates(outputs({ a: "1" }), {}), []);
    });

    it("every instance when the outputs before are unknown", () => {
        assert.deepEqual(changedConfigUpdates(undefined, outputs({ b: "2", a: "1" })), [{ instance: "a", command: "1" }, { instance: "b", command: "2" }]);
    });
});
