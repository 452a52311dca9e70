/** Assertions on the problems parseStackConfig reports. */
import { strict as assert } from "assert";
import { ConfigError } from "../../components/config/errors";
import { parseStackConfig } from "../../components/config/stack";

export function problemsOf(raw: Record<string, unknown>): string[] {
    try {
        parseStackConfig(raw);
    } catch (error) {
        assert.ok(error instanceof ConfigError, `expected ConfigError, got ${error}`);
        return error.problems;
    }
    assert.fail("configuration was accepted");
}

/** Some reported problem contains every fragment (the key and what is allowed). */
export function assertProblem(raw: Record<string, unknown>, ...fragments: string[]): void {
    const problems = problemsOf(raw);
    const match = problems.find((problem) => fragments.every((fragment) => problem.includes(fragment)));
    assert.ok(match, `no problem containing ${JSON.stringify(fragments)} in:\n${problems.join("\n")}`);
}
