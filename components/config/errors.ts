/** How config problems are reported: one error listing every problem, each naming its key and what is allowed. */
import { z } from "zod";
import { projectName } from "./primitives";

export class ConfigError extends Error {
    constructor(readonly problems: string[]) {
        super(`invalid stack configuration:\n  - ${problems.join("\n  - ")}`);
        this.name = "ConfigError";
    }
}

export function formatPath(path: (string | number)[]): string {
    return path.reduce<string>((text, part) => (typeof part === "number" ? `${text}[${part}]` : text ? `${text}.${part}` : part), "");
}

function quoted(values: readonly unknown[]): string {
    return values.map((value) => `'${String(value)}'`).join(", ");
}

function plural(count: number | bigint, one: string, many: string): string {
    return `${count} ${Number(count) === 1 ? one : many}`;
}

/**
 * Messages for zod's own checks (lengths, bounds, types, enums): what is allowed and what was given, in the
 * words of this config; the key is prefixed by formatIssue. Messages set in the schema win.
 */
export const configErrorMap: z.ZodErrorMap = (issue, context) => {
    switch (issue.code) {
        case z.ZodIssueCode.invalid_type:
            if (issue.expected === "integer") return { message: "must be a whole number" };
            return { message: `must be ${issue.expected === "array" || issue.expected === "object" ? "an" : "a"} ${issue.expected} (got ${issue.received})` };
        case z.ZodIssueCode.too_small: {
            if (issue.type === "string") return { message: issue.minimum === 1 ? "must not be empty" : `must be at least ${plural(issue.minimum, "character", "characters")}` };
            if (issue.type === "array") return { message: `needs at least ${plural(issue.minimum, "entry", "entries")}` };
            return { message: `must be ${issue.inclusive ? "at least" : "more than"} ${issue.minimum} (got ${String(context.data)})` };
        }
        case z.ZodIssueCode.too_big: {
            if (issue.type === "string") return { message: `must be at most ${plural(issue.maximum, "character", "characters")}` };
            if (issue.type === "array") return { message: `allows at most ${plural(issue.maximum, "entry", "entries")}` };
            return { message: `must be ${issue.inclusive ? "at most" : "less than"} ${issue.maximum} (got ${String(context.data)})` };
        }
        case z.ZodIssueCode.invalid_enum_value:
            return { message: `allowed: ${quoted(issue.options)} (got '${String(issue.received)}')` };
        case z.ZodIssueCode.invalid_union_discriminator:
            // The data is the whole object; the offending value is its discriminator key.
            return { message: `allowed: ${quoted(issue.options)} (got ${quoted([(context.data as Record<string, unknown> | undefined)?.[String(issue.path.at(-1))]])})` };
        case z.ZodIssueCode.invalid_literal:
            return { message: `must be ${JSON.stringify(issue.expected)} (got ${JSON.stringify(context.data)})` };
        case z.ZodIssueCode.invalid_string:
            return { message: `is not a valid ${typeof issue.validation === "string" ? issue.validation : "string"}` };
        default:
            return { message: context.defaultError };
    }
};

/** One problem line: the full key (`prometheus-paas:<path>`, or `<prefix><path>`) and what is wrong. */
export function formatIssue(issue: z.ZodIssue, prefix = `${projectName}:`): string {
    const path = formatPath(issue.path);
    const key = path ? `${prefix}${path}` : prefix.replace(/[:\s]+$/, "");
    if (issue.code === "unrecognized_keys") {
        return `${key}: unknown key(s) ${issue.keys.map((k) => `'${k}'`).join(", ")}; ${issue.message}`;
    }
    if (issue.code === "invalid_type" && issue.received === "undefined") {
        return `${key}: is required`;
    }
    return `${key}: ${issue.message}`;
}
