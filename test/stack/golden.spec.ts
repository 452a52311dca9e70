/**
 * Every rendered artifact of every stack, pinned by golden files (test/golden/<stack>/): manifests and pod specs,
 * prometheus.yml per replica, rule files, ECS task definitions, IAM documents, objstore.yml (keys masked),
 * outputs; and of the two-platform fixture. Regenerate with `UPDATE_GOLDEN=1 npm test` and review `git diff test/golden`.
 */
import { strict as assert } from "assert";
import { stackArtifacts } from "../support/artifacts";
import { stackNames } from "../support/fixtures";
import { assertGolden, lineDiff } from "../support/golden";
import { ecsRawConfig } from "../support/ecs-fixtures";
import { runStack, runStackConfig } from "../support/stack";

describe("golden files: what every stack renders", () => {
    for (const stack of stackNames()) {
        it(`${stack}: matches test/golden/${stack}/`, async () => {
            assertGolden(stack, await stackArtifacts(await runStack(stack)));
        });
    }

    // The two-platform fixture of the component tests (Kubernetes, HA ECS tenant with basic auth, YACE), compactor on ECS.
    it("two-platform fixture: matches test/golden/two-platforms/", async () => {
        assertGolden("two-platforms", await stackArtifacts(await runStackConfig(ecsRawConfig({ thanos: { compactor: { platform: "ecs" } } }), "two-platforms")));
    });

    it("a difference is reported with the changed lines, so a failure says what moved", () => {
        const diff = lineDiff("a\nb\nc\n", "a\nB\nc\n");
        assert.match(diff, / - 2 {2}b/);
        assert.match(diff, / \+ 2 {2}B/);
    });
});
