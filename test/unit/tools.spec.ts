import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as path from "path";
import { checkCliVersion, pipelineCliRequirement, selectedToolchain } from "../../automation/toolchain";
import { engineEnvVars, pulumiHome, toolDirs } from "../../automation/tools";
import { brokerCliRequirement } from "../../broker/engine";
import { projectRoot } from "../support/fixtures";

describe("tool layout: scripts/tools-env.sh and automation/tools.ts agree", () => {
    const shell = (script: string) => execFileSync("bash", ["-c", `source scripts/tools-env.sh && ${script}`], { cwd: projectRoot, encoding: "utf8" }).trim();

    it("puts each tool where the TypeScript side looks for it", () => {
        const dirs = shell('printf "%s\\n" "$PAAS_PROMETHEUS_DIR" "$PAAS_PULUMI_DIR/bin" "$PAAS_PULUMI_KUBERNETES_DIR" "$PAAS_THANOS_DIR" "$PAAS_VERSITYGW_DIR" "$PAAS_KUBE_APISERVER_DIR" "$PAAS_CADDY_DIR" "$PAAS_NETPOL_EVAL_DIR" "$PULUMI_HOME"').split("\n");
        assert.deepEqual(dirs, [toolDirs.prometheus, toolDirs.pulumi, toolDirs.pulumiKubernetes, toolDirs.thanos, toolDirs.versitygw, toolDirs.kubeApiserver, toolDirs.caddy, toolDirs.netpolEval, pulumiHome]);
    });

    it("puts the project's tools and shims ahead of anything else on PATH (Debian's promtool lacks Kubernetes SD)", () => {
        const entries = shell("echo $PATH").split(":");
        const shims = entries.indexOf(path.join(projectRoot, "scripts", "shims"));
        assert.ok(entries.indexOf(toolDirs.prometheus) === 0, entries.join("\n"));
        assert.ok(shims > 0 && shims < entries.indexOf("/usr/bin"), entries.join("\n"));
    });

    it("builds the tools at the versions of the pinned images (Prometheus v0.3MM.P is 3.MM.P)", () => {
        const { images, tools } = require("../../components/versions.json");
        assert.equal(`v${shell("echo $PAAS_PROMETHEUS_RELEASE")}`, images.prometheus.tag);
        assert.equal(tools.thanos.version, images.thanos.tag);
        assert.equal(tools.caddy.version, `v${images.caddy.tag}`);
    });
});

describe("toolchain choice: the user's Pulumi by default, the offline build only when PAAS_TOOLCHAIN=offline", () => {
    it("unset, empty or 'user' is the user's; 'offline' is this project's; anything else names the variable and the allowed values", () => {
        assert.equal(selectedToolchain({}), "user");
        assert.equal(selectedToolchain({ PAAS_TOOLCHAIN: "" }), "user");
        assert.equal(selectedToolchain({ PAAS_TOOLCHAIN: "user" }), "user");
        assert.equal(selectedToolchain({ PAAS_TOOLCHAIN: "offline" }), "offline");
        assert.throws(() => selectedToolchain({ PAAS_TOOLCHAIN: "cache" }), /PAAS_TOOLCHAIN='cache' is not a toolchain: unset it \(or set 'user'\).*or set 'offline'/);
    });

    it("the user's toolchain adds nothing to the engine's environment: their PATH, PULUMI_HOME, plugin downloads and backend stay", () => {
        assert.deepEqual(engineEnvVars("user"), {});
    });

    it("the offline toolchain puts the built CLI and shims first, the project's PULUMI_HOME, downloads off", () => {
        const vars = engineEnvVars("offline");
        assert.deepEqual(vars.PATH.split(path.delimiter).slice(0, 2), [toolDirs.pulumi, toolDirs.shims]);
        assert.equal(vars.PULUMI_HOME, pulumiHome);
        assert.equal(vars.PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION, "true");
    });

    it("scripts/tools-env.sh (run-local.sh, setup) chooses the offline toolchain explicitly", () => {
        const value = execFileSync("bash", ["-c", "unset PAAS_TOOLCHAIN; source scripts/tools-env.sh && echo $PAAS_TOOLCHAIN"], { cwd: projectRoot, encoding: "utf8" }).trim();
        assert.equal(value, "offline");
    });
});

describe("the minimum Pulumi CLI", () => {
    it("is the Automation API's own for the pipeline: 3.2.0, the minimumVersion of @pulumi/pulumi 3.248.0", () => {
        const { minimumVersion } = require("@pulumi/pulumi/automation/minimumVersion");
        assert.equal(`${minimumVersion.major}.${minimumVersion.minor}.${minimumVersion.patch}`, pipelineCliRequirement.version);
    });

    it("refuses a CLI below it, naming the minimum, what needs it and the version found", () => {
        assert.throws(
            () => checkCliVersion("3.1.0", "on PATH (/usr/bin/pulumi)", pipelineCliRequirement),
            (err: Error) => err.name === "EngineMissingError" && /the pulumi CLI on PATH \(\/usr\/bin\/pulumi\) is version 3\.1\.0, below the minimum 3\.2\.0 \(the Automation API of @pulumi\/pulumi 3\.248\.0\): upgrade it/.test(err.message),
        );
        assert.throws(() => checkCliVersion("3.187.0", "on PATH", brokerCliRequirement), /is version 3\.187\.0, below the minimum 3\.188\.0 \(the broker's 'pulumi stack rm --remove-backups'\)/);
        assert.throws(() => checkCliVersion("4.0.0", "on PATH", pipelineCliRequirement), /is version 4\.0\.0; the Automation API of @pulumi\/pulumi 3\.248\.0 drives Pulumi 3\.x only/);
        assert.throws(() => checkCliVersion("unknown", "on PATH", pipelineCliRequirement), /reports version 'unknown', which is not a version number/);
    });

    it("accepts the minimum, newer 3.x releases and dev builds of them", () => {
        for (const version of ["3.2.0", "v3.2.0", "3.248.0", "3.300.1", "3.249.0-alpha.1764000000+g1234abc"]) checkCliVersion(version, "on PATH", pipelineCliRequirement);
        checkCliVersion("3.188.0", "on PATH", brokerCliRequirement);
    });
});
