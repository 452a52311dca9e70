import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as path from "path";
import { pulumiHome, toolDirs } from "../../automation/tools";
import { projectRoot } from "../support/fixtures";

describe("tool layout: scripts/tools-env.sh and automation/tools.ts agree", () => {
    const shell = (script: string) => execFileSync("bash", ["-c", `source scripts/tools-env.sh && ${script}`], { cwd: projectRoot, encoding: "utf8" }).trim();

    it("puts each tool where the TypeScript side looks for it", () => {
        const dirs = shell('printf "%s\\n" "$PAAS_PROMETHEUS_DIR" "$PAAS_PULUMI_DIR/bin" "$PAAS_PULUMI_KUBERNETES_DIR" "$PAAS_THANOS_DIR" "$PAAS_VERSITYGW_DIR" "$PAAS_KUBE_APISERVER_DIR" "$PULUMI_HOME"').split("\n");
        assert.deepEqual(dirs, [toolDirs.prometheus, toolDirs.pulumi, toolDirs.pulumiKubernetes, toolDirs.thanos, toolDirs.versitygw, toolDirs.kubeApiserver, pulumiHome]);
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
    });
});
