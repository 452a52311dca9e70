import { strict as assert } from "assert";
import { parseBrokerSettings } from "../../components/broker/settings";
import { parseStackConfig } from "../../components/config/stack";
import { skipAwaitAnnotation, skipAwaitTransform } from "../../components/kubernetes/workload";
import { minimalRawConfig, readStackConfig, stackNames } from "../support/fixtures";
import { loopbackNetwork } from "../../components/config/network";

const platform = { thanosNamespace: "prometheus", network: loopbackNetwork("grafana") };

describe("the provider's await: kubernetes.skipAwait", () => {
    it("is off by default and in every stack of the repository, so real clusters wait for rollouts", () => {
        assert.equal(parseStackConfig(minimalRawConfig()).kubernetes.skipAwait, false);
        for (const stack of stackNames()) assert.equal(readStackConfig(stack).kubernetes.skipAwait, false, stack);
    });

    it("is off by default in the broker's settings (its instance stacks), and only a boolean is accepted", () => {
        assert.equal(parseBrokerSettings({ environment: "e", region: "r", ...platform }).skipAwait, false);
        assert.equal(parseBrokerSettings({ environment: "e", region: "r", ...platform, skipAwait: true }).skipAwait, true);
        assert.throws(() => parseBrokerSettings({ environment: "e", region: "r", ...platform, skipAwait: "yes" }), /broker settings: skipAwait/);
    });

    it("annotates Kubernetes objects, keeping their other annotations, and leaves other resources alone", async () => {
        const opts = { protect: false };
        const result = await skipAwaitTransform({
            custom: true, type: "kubernetes:apps/v1:StatefulSet", name: "prometheus-shop", opts,
            props: { metadata: { name: "prometheus-shop", annotations: { team: "shop" } }, spec: { replicas: 2 } },
        });
        assert.deepEqual(result, {
            props: { metadata: { name: "prometheus-shop", annotations: { team: "shop", [skipAwaitAnnotation]: "true" } }, spec: { replicas: 2 } },
            opts,
        });
        assert.equal(await skipAwaitTransform({ custom: false, type: "paas:prometheus:KubernetesInstance", name: "shop", props: {}, opts: {} }), undefined);
        assert.equal(await skipAwaitTransform({ custom: true, type: "pulumi:providers:kubernetes", name: "kubernetes", props: {}, opts: {} }), undefined);
    });
});
