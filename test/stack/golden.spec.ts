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

    it("no golden file holds an instance's password: web Secrets, datasources and the credentials output are masked", async () => {
        // Under mocks the local stack's passwords are placeholders, the generated ones `mock-password-...`.
        for (const stack of ["local", "dev"]) {
            const files = await stackArtifacts(await runStack(stack));
            const leaks = Object.entries(files).filter(([, content]) => /placeholder-for-instancePasswords|mock-password-/.test(content)).map(([file]) => file);
            assert.deepEqual(leaks, [], `${stack}: files holding a password`);
            assert.ok(Object.keys(files).some((file) => file.endsWith("-web/web.yml")), `${stack}: no web Secret rendered, so the check proves nothing`);
        }
    });

    it("a difference is reported with the changed lines, so a failure says what moved", () => {
        const diff = lineDiff("a\nb\nc\n", "a\nB\nc\n");
        assert.match(diff, / - 2 {2}b/);
        assert.match(diff, / \+ 2 {2}B/);
    });
});
