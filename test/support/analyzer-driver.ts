/**
 * Plays the engine's side of the analyzer protocol against the real policy pack, in its own process (the pack's
 * copy of the Pulumi protobuf modules must not share a process with the mocks' copy).
 *
 * It starts the pack exactly as the Node.js language host does (`run-policy-pack <engine> .` in policy/, which
 * registers ts-node with type checking and loads index.ts), reads the port the pack prints, then sends
 * GetAnalyzerInfo, one Analyze per resource and one AnalyzeStack, built from the JSON job on stdin, and prints
 * the answers as JSON on stdout.
 *
 *   node -r ts-node/register/transpile-only test/support/analyzer-driver.ts < job.json
 */
import { spawn } from "child_process";
import { createRequire } from "module";
import * as path from "path";

export interface DriverResource {
    type: string;
    name: string;
    urn: string;
    /** Inputs in wire form (secrets as signature objects, unknowns as the engine's sentinels): Analyze. */
    properties: Record<string, unknown>;
    /** Outputs in the same form: AnalyzeStack. */
    outputs: Record<string, unknown>;
    parent?: string;
    dependencies: string[];
    propertyDependencies: Record<string, string[]>;
    additionalSecretOutputs: string[];
}

export interface DriverDiagnostic {
    policyName: string;
    policyPackName: string;
    message: string;
    enforcementLevel: "advisory" | "mandatory" | "disabled" | "remediate";
    urn: string;
}

export interface DriverResult {
    info: { name: string; policies: { name: string; enforcementLevel: string; remediationSteps: string }[] };
    analyze: DriverDiagnostic[];
    analyzeStack: DriverDiagnostic[];
}

const policyRoot = path.resolve(__dirname, "..", "..", "policy");
const policyRequire = createRequire(path.join(policyRoot, "package.json"));

const levels = ["advisory", "mandatory", "disabled", "remediate"] as const;

async function main(): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    const job = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { resources: DriverResource[] };

    const grpc = policyRequire("@grpc/grpc-js");
    const analyzerrpc = policyRequire("@pulumi/pulumi/proto/analyzer_grpc_pb");
    const analyzerproto = policyRequire("@pulumi/pulumi/proto/analyzer_pb");
    const structproto = policyRequire("google-protobuf/google/protobuf/struct_pb");
    const emptyproto = policyRequire("google-protobuf/google/protobuf/empty_pb");
    const runner = policyRequire.resolve("@pulumi/pulumi/cmd/run-policy-pack");

    const pack = spawn(process.execPath, [runner, "127.0.0.1:0", "."], { cwd: policyRoot, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    pack.stderr.on("data", (data) => (stderr += data));
    try {
        const port = await new Promise<string>((resolve, reject) => {
            let stdout = "";
            const timer = setTimeout(() => reject(new Error(`the policy pack did not start within 120s:\n${stderr}`)), 120_000);
            pack.stdout.on("data", (data) => {
                stdout += data;
                const line = /^(\d+)\s*$/m.exec(stdout);
                if (line) {
                    clearTimeout(timer);
                    resolve(line[1]);
                }
            });
            pack.on("exit", (code) => reject(new Error(`the policy pack exited with ${code} before serving:\n${stdout}\n${stderr}`)));
        });
        const client = new analyzerrpc.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
        const call = <T>(method: string, request: unknown) =>
            new Promise<T>((resolve, reject) => client[method](request, (error: Error | null, response: T) => (error ? reject(error) : resolve(response))));

        const options = (resource: DriverResource) => {
            const opts = new analyzerproto.AnalyzerResourceOptions();
            opts.setAdditionalsecretoutputsList(resource.additionalSecretOutputs);
            if (resource.parent) opts.setParent(resource.parent);
            return opts;
        };
        const diagnostics = (response: any): DriverDiagnostic[] =>
            response.getDiagnosticsList().map((d: any) => ({
                policyName: d.getPolicyname(),
                policyPackName: d.getPolicypackname(),
                message: d.getMessage(),
                enforcementLevel: levels[d.getEnforcementlevel()],
                urn: d.getUrn(),
            }));

        const info: any = await call("getAnalyzerInfo", new emptyproto.Empty());
        const analyze: DriverDiagnostic[] = [];
        for (const resource of job.resources) {
            const request = new analyzerproto.AnalyzeRequest();
            request.setType(resource.type);
            request.setName(resource.name);
            request.setUrn(resource.urn);
            request.setProperties(structproto.Struct.fromJavaScript(resource.properties));
            request.setOptions(options(resource));
            analyze.push(...diagnostics(await call("analyze", request)).map((d) => ({ ...d, urn: d.urn || resource.urn })));
        }
        const stackRequest = new analyzerproto.AnalyzeStackRequest();
        stackRequest.setResourcesList(job.resources.map((resource) => {
            const analyzed = new analyzerproto.AnalyzerResource();
            analyzed.setType(resource.type);
            analyzed.setName(resource.name);
            analyzed.setUrn(resource.urn);
            analyzed.setProperties(structproto.Struct.fromJavaScript(resource.outputs));
            analyzed.setOptions(options(resource));
            if (resource.parent) analyzed.setParent(resource.parent);
            analyzed.setDependenciesList(resource.dependencies);
            const map = analyzed.getPropertydependenciesMap();
            for (const [key, urns] of Object.entries(resource.propertyDependencies)) {
                const dependencies = new analyzerproto.AnalyzerPropertyDependencies();
                dependencies.setUrnsList(urns);
                map.set(key, dependencies);
            }
            return analyzed;
        }));
        const analyzeStack = diagnostics(await call("analyzeStack", stackRequest));
        const result: DriverResult = {
            info: {
                name: info.getName(),
                policies: info.getPoliciesList().map((p: any) => ({ name: p.getName(), enforcementLevel: levels[p.getEnforcementlevel()], remediationSteps: p.getRemediationSteps() })),
            },
            analyze,
            analyzeStack,
        };
        process.stdout.write(JSON.stringify(result));
        client.close();
    } finally {
        pack.kill();
    }
}

main().catch((error) => {
    process.stderr.write(`${error.stack ?? error}\n`);
    process.exit(1);
});
