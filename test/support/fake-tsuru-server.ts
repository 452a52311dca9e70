// Runs the fake Tsuru API as its own process, for engine tests that drive the real `pulumi up`.
//   npx ts-node --transpile-only test/support/fake-tsuru-server.ts [port] [token]
// Port: argv[2], else FAKE_TSURU_PORT, else a free one. Token: argv[3], else FAKE_TSURU_TOKEN, else random.
// Teams: FAKE_TSURU_TEAMS (comma-separated, default "admin").
// Prints one line, the base URL, once listening; a second line `token=<token>` only when it generated one.
// Control routes (no auth): GET /__fake/state, PUT /__fake/faults (JSON {delayMs, rules: [{fault, method,
// path (regex source), times}]}), PUT /__fake/services/<id>/instances (JSON array of names).
import { startFakeTsuru } from "./fake-tsuru";

async function main(): Promise<void> {
    const portText = process.argv[2] ?? process.env.FAKE_TSURU_PORT ?? "0";
    const port = Number(portText);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
        throw new Error(`invalid port "${portText}"`);
    }
    const givenToken = process.argv[3] ?? process.env.FAKE_TSURU_TOKEN;
    const teams = (process.env.FAKE_TSURU_TEAMS ?? "admin").split(",").map((t) => t.trim()).filter(Boolean);
    const fake = await startFakeTsuru({ port, token: givenToken, teams });
    process.stdout.write(`${fake.url}\n`);
    if (!givenToken) {
        process.stdout.write(`token=${fake.token}\n`);
    }
    const stop = () => {
        fake.close().then(() => process.exit(0), () => process.exit(1));
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
}

main().catch((err) => {
    process.stderr.write(`fake-tsuru-server: ${err instanceof Error ? err.message : err}\n`);
    process.exit(1);
});
