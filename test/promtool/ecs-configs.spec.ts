import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { envsubstScript } from "../../components/envsubst";
import type { StackConfig } from "../../components/config/types";
import { ecsPaths, ecsReplicaName, renderEcsInstanceFiles, scrapeSecrets } from "../../components/prometheus/ecs-spec";
import { ecsConfig } from "../support/ecs-fixtures";
import { ecsInstance, readStackConfig, stackNames } from "../support/fixtures";
import { checkRules, runPromtool, writeTempFiles } from "../support/promtool";

/** What prometheus-ecs-discovery writes (its labels struct, yaml-marshalled), for one Fargate task. */
const discoveredTargets = `- targets:
  - 10.40.3.17:8888
  labels:
    task_arn: arn:aws:ecs:us-east-1:111122223333:task/tsuru-ecs/0f1e2d3c4b5a69788796a5b4c3d2e1f0
    task_name: billing-api
    job: billing
    task_revision: "42"
    task_group: service:billing-api
    cluster_arn: arn:aws:ecs:us-east-1:111122223333:cluster/tsuru-ecs
    container_name: api
    container_arn: arn:aws:ecs:us-east-1:111122223333:container/tsuru-ecs/0f1e/7a6b
    docker_image: 111122223333.dkr.ecr.us-east-1.amazonaws.com/billing-api:v42
    __metrics_path__: /metrics
`;

/**
 * The prometheus.yml a replica task starts with: the template substituted by config-render's own script (sh + awk),
 * with the replica name and a stand-in for each Secrets Manager password, and the file_sd directory moved into `dir`.
 */
function renderedForReplica(config: StackConfig, instanceName: string, replica: number, dir: string): string {
    const instance = ecsInstance(config, instanceName);
    const labels = { environment: config.environment, region: config.region, product: config.product, replicaLabel: config.thanos.replicaLabel };
    const exporters = config.yace?.scrapedBy.includes(instance.name) ? [{ jobName: "yace", host: `yace.${config.ecs!.serviceDiscoveryNamespace}`, port: 5000 }] : [];
    const files = renderEcsInstanceFiles({ instance, labels, alertmanagers: config.ecs!.alertmanagers ?? config.alertmanagers, exporters });
    const template = path.join(dir, "prometheus.yml.tmpl");
    const output = path.join(dir, "prometheus.yml");
    fs.writeFileSync(template, files.prometheusYml.split(`${ecsPaths.fileSd}/`).join(`${dir}/`));
    const env: Record<string, string> = { PATH: process.env.PATH ?? "", PROMETHEUS_REPLICA: ecsReplicaName(instance, replica) };
    for (const secret of scrapeSecrets(instance)) env[secret.name] = "s3cr&t/with'quotes";
    const result = spawnSync("sh", ["-c", envsubstScript(template, output)], { env, encoding: "utf8" });
    assert.equal(result.status, 0, result.stderr);
    return fs.readFileSync(output, "utf8");
}

function checkEcsInstance(config: StackConfig, instanceName: string) {
    const instance = ecsInstance(config, instanceName);
    for (let replica = 0; replica < instance.replicas; replica++) {
        const dir = writeTempFiles(Object.fromEntries([...new Set(instance.apps.map((app) => app.cluster))].map((cluster) => [`ecs-${cluster}.yml`, discoveredTargets])));
        const rendered = renderedForReplica(config, instanceName, replica, dir);
        assert.ok(!rendered.includes("$("), "unsubstituted placeholder left");
        assert.ok(rendered.includes(`prometheus_replica: ${ecsReplicaName(instance, replica)}`));
        const result = runPromtool(["check", "config", path.join(dir, "prometheus.yml")]);
        assert.ok(result.ok, result.output);
        assert.match(result.output, /SUCCESS/);
        assert.doesNotMatch(result.output, /WARNING/, "every file_sd file exists and was checked");
    }
    const labels = { environment: config.environment, region: config.region, product: config.product, replicaLabel: config.thanos.replicaLabel };
    for (const [file, content] of Object.entries(renderEcsInstanceFiles({ instance, labels, alertmanagers: [], exporters: [] }).ruleFiles)) {
        const result = checkRules(content);
        assert.ok(result.ok, `${file}: ${result.output}`);
    }
}

describe("promtool on the ECS prometheus.yml (after config-render's substitution)", () => {
    it("rejects a broken file_sd target file, so the discovery sample is really checked", () => {
        // An unknown key (a typo of the discovery's output format) is what a format drift would look like.
        const dir = writeTempFiles({ "ecs-x.yml": "- targets: [\"10.0.0.1:80\"]\n  lables:\n    task_name: x\n" });
        fs.writeFileSync(path.join(dir, "prometheus.yml"), `scrape_configs:\n  - job_name: x\n    file_sd_configs:\n      - files: ["${dir}/ecs-x.yml"]\n`);
        assert.equal(runPromtool(["check", "config", path.join(dir, "prometheus.yml")]).ok, false);
    });

    it("fixture: HA ECS tenant with basic auth, processes, two clusters and YACE passes for each replica", () => {
        checkEcsInstance(ecsConfig(), "billing");
    });

    for (const stack of stackNames()) {
        const config = readStackConfig(stack);
        for (const instance of config.instances.filter((candidate) => candidate.platform === "ecs")) {
            it(`${stack}/${instance.name}: passes 'promtool check config' for each replica, rules pass 'check rules'`, () => {
                checkEcsInstance(config, instance.name);
            });
        }
    }
});
