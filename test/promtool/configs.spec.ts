import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { renderKubernetesInstanceFiles, replicaPlaceholder } from "../../components/prometheus/kubernetes-spec";
import versions from "../../components/versions.json";
import { kubernetesInstance, minimalConfig, readStackConfig, stackNames } from "../support/fixtures";
import { checkConfig, checkRules, promtoolVersion, runPromtool, writeTempFiles } from "../support/promtool";

/** What the sidecar's reloader does before Prometheus reads the file. */
function substituteReplica(template: string, podName: string): string {
    return template.split(replicaPlaceholder).join(podName);
}

describe("promtool (real, at the pinned Prometheus version)", () => {
    it("is the version of the Prometheus image the program deploys", () => {
        assert.equal(`v${promtoolVersion()}`, versions.images.prometheus.tag);
    });

    it("rejects an invalid config, so a passing check means something", () => {
        const result = checkConfig("scrape_configs:\n  - job_name: x\n    kubernetes_sd_configs:\n      - role: nonsense\n");
        assert.equal(result.ok, false, result.output);
    });

    it("accepts a plan scraping every 5s (the timeout follows the interval; Prometheus refuses one above it)", () => {
        const config = minimalConfig({ plans: { small: { scrapeInterval: "5s" } } });
        const labels = { environment: config.environment, region: config.region, product: config.product, replicaLabel: config.thanos.replicaLabel };
        const files = renderKubernetesInstanceFiles({ instance: kubernetesInstance(config), labels, alertmanagers: [] });
        const result = checkConfig(substituteReplica(files.prometheusYml, "prometheus-payments-0"));
        assert.ok(result.ok, result.output);
        const tooLong = checkConfig(substituteReplica(files.prometheusYml, "prometheus-payments-0").replace("scrape_timeout: 5s", "scrape_timeout: 10s"));
        assert.equal(tooLong.ok, false, "promtool accepts a timeout above the interval: the check proves nothing");
        assert.match(tooLong.output, /scrape timeout greater than scrape interval/);
    });

    for (const stack of stackNames()) {
        describe(`stack ${stack}`, () => {
            const config = readStackConfig(stack);
            const labels = { environment: config.environment, region: config.region, product: config.product, replicaLabel: config.thanos.replicaLabel };
            for (const instance of config.instances.filter((candidate) => candidate.platform === "kubernetes")) {
                const files = renderKubernetesInstanceFiles({ instance, labels, alertmanagers: config.alertmanagers });

                it(`${instance.name}: prometheus.yml passes 'promtool check config' for each replica`, () => {
                    for (let replica = 0; replica < instance.replicas; replica++) {
                        const rendered = substituteReplica(files.prometheusYml, `prometheus-${instance.name}-${replica}`);
                        assert.ok(!rendered.includes("$("), "unsubstituted placeholder left");
                        const result = checkConfig(rendered);
                        assert.ok(result.ok, result.output);
                        assert.match(result.output, /SUCCESS/);
                    }
                });

                for (const [name, content] of Object.entries(files.ruleFiles)) {
                    it(`${instance.name}: ${name} passes 'promtool check rules'`, () => {
                        const result = checkRules(content);
                        assert.ok(result.ok, result.output);
                    });
                }
            }
        });
    }
});

describe("promtool test rules: the shipped instance alerts", () => {
    it("fire and stay silent as the unit tests expect", () => {
        const config = readStackConfig("dev");
        const small = config.instances.filter((instance) => instance.platform === "kubernetes").find((instance) => instance.plan.name === "small")!;
        const labels = { environment: "dev", region: "us-east-1", product: "tsuru", replicaLabel: "prometheus_replica" };
        const { ruleFiles } = renderKubernetesInstanceFiles({ instance: small, labels, alertmanagers: [] });
        const tests = fs.readFileSync(path.join(__dirname, "instance-alerts.test.yml"), "utf8");
        const dir = writeTempFiles({ "instance-alerts.yml": ruleFiles["instance-alerts.yml"], "instance-alerts.test.yml": tests });
        const result = runPromtool(["test", "rules", "instance-alerts.test.yml"], dir);
        assert.ok(result.ok, result.output);
        assert.match(result.output, /SUCCESS/);
    });
});
