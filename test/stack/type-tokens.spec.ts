/**
 * Component type tokens are `paas:<module>:<Class>` (module = the component's folder), and a renamed token stays
 * an alias so stacks created with it keep their resources.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { ecsRawConfig } from "../support/ecs-fixtures";
import { projectRoot } from "../support/fixtures";
import { runStackConfig } from "../support/stack";

/** Tokens this program registered before they were made equal to the class names. */
const renamed: Record<string, string> = {
    "paas:prometheus:KubernetesPrometheus": "paas:prometheus:KubernetesInstance",
    "paas:prometheus:EcsPrometheus": "paas:prometheus:EcsInstance",
    "paas:thanos:ThanosBucket": "paas:thanos:Bucket",
    "paas:grafana:GrafanaDatasources": "paas:grafana:Datasources",
};

function sourceFiles(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? sourceFiles(path.join(dir, entry.name)) : entry.name.endsWith(".ts") ? [path.join(dir, entry.name)] : []);
}

describe("component type tokens", () => {
    const components = sourceFiles(path.join(projectRoot, "components")).flatMap((file) => {
        const text = fs.readFileSync(file, "utf8");
        return [...text.matchAll(/class (\w+) extends pulumi\.ComponentResource[\s\S]*?super\("([^"]+)"/g)].map(([, name, token]) => ({ file: path.relative(projectRoot, file), name, token }));
    });

    it("finds the components", () => {
        assert.ok(components.length >= 9, components.map((component) => component.name).join(", "));
    });

    it("each token is paas:<folder>:<class name>", () => {
        for (const component of components) {
            assert.equal(component.token, `paas:${path.basename(path.dirname(component.file))}:${component.name}`, component.file);
        }
    });

    it("registers each renamed component with its former token as an alias", async () => {
        const { MockMonitor } = require("@pulumi/pulumi/runtime/mocks") as { MockMonitor: { prototype: any } };
        const original = MockMonitor.prototype.registerResource;
        const aliases = new Map<string, string[]>();
        MockMonitor.prototype.registerResource = function (this: unknown, req: any, callback: unknown) {
            const types = req.getAliasesList().map((alias: any) => alias.toObject().spec?.type).filter(Boolean);
            aliases.set(req.getType(), [...(aliases.get(req.getType()) ?? []), ...types]);
            return original.call(this, req, callback);
        };
        try {
            await runStackConfig(ecsRawConfig());
        } finally {
            MockMonitor.prototype.registerResource = original;
        }
        for (const [token, former] of Object.entries(renamed)) {
            assert.ok(aliases.has(token), `${token} was not registered`);
            assert.ok(aliases.get(token)!.every((alias) => alias === former) && aliases.get(token)!.length > 0, `${token}: aliases ${aliases.get(token)}`);
        }
    });
});
