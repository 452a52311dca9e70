/**
 * What running the program under the SDK's mock monitor needs beyond pulumi.runtime.setMocks: waiting for the
 * registrations, and reading the secret marker of serialized inputs. Used by the mock tests.
 */

// @internal in the SDK, but exactly "wait until every registration reached the monitor".
const { waitForRPCs } = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };

export function waitForRegistrations(): Promise<void> {
    return waitForRPCs();
}

/** The SDK's marker for secret values in serialized inputs. */
const secretSignature = "4dabf18193072939515e22adb298388d";
const secretSentinel = "1b47061264138c4ac30d75fd1eb44270";

export function isSecret(value: unknown): boolean {
    return typeof value === "object" && value !== null && (value as Record<string, unknown>)[secretSignature] === secretSentinel;
}

/** The plain value of one serialized input, secret or not. */
export function unsecret<T = any>(value: unknown): T {
    return (isSecret(value) ? (value as { value: T }).value : value) as T;
}

/** A serialized input with every secret marker removed, at any depth. */
export function plainValue(value: unknown): unknown {
    const unwrapped = unsecret(value);
    if (Array.isArray(unwrapped)) return unwrapped.map(plainValue);
    if (unwrapped !== null && typeof unwrapped === "object") {
        return Object.fromEntries(Object.entries(unwrapped).map(([key, inner]) => [key, plainValue(inner)]));
    }
    return unwrapped;
}
