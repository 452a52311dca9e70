/** Recognising credentials in configuration text, environment variables and command lines. */

const credentialName = /(pass(word|wd)?|secret|token|credential|api[-_.]?key|access[-_.]?key|private[-_.]?key|auth[-_.]?key|client[-_.]?key)/i;
/** Names that point at a credential instead of holding it: files, paths, names, references, URLs. */
const referenceName = /([-_.](file|path|name|ref|arn|dir|url|uri|id_file)|(File|Path|Name|Ref|Arn|Dir|Url|Uri))$/i;

const valuePatterns: readonly { readonly pattern: RegExp; readonly what: string }[] = [
    { pattern: /\b(AKIA|ASIA)[0-9A-Z]{16}\b/, what: "an AWS access key id" },
    { pattern: /-----BEGIN [A-Z ]*PRIVATE KEY-----/, what: "a private key" },
    { pattern: /\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@'"]+:[^/\s@'"]+@/i, what: "a URL with an embedded password" },
];

export function isCredentialName(name: string): boolean {
    return credentialName.test(name) && !referenceName.test(name);
}

/** Values that are clearly not a credential: empty, booleans, references and template placeholders. */
export function isPlaceholderValue(value: string): boolean {
    const text = value.trim().replace(/^["']|["']$/g, "").trim();
    return (
        text === "" ||
        /^(null|~|true|false|none|""|''|\||>|[{[])$/i.test(text) ||
        /^\$\(.*\)$|^\$\{.*\}$|^\{\{.*\}\}$|^<.*>$/.test(text) ||
        /^(REDACTED|CHANGEME|\*+)$/i.test(text)
    );
}

export interface CredentialFinding {
    /** What was found, for the message: "key 'secret_key'" or "an AWS access key id". */
    readonly what: string;
}

/** Credentials in free text (YAML, JSON, INI, shell): credential-named keys with a literal value, and known value shapes. */
export function findCredentialsInText(text: string): CredentialFinding[] {
    const findings: CredentialFinding[] = [];
    const seen = new Set<string>();
    const pair = /(["']?)([A-Za-z_][A-Za-z0-9_.-]*)\1\s*[:=][ \t]*("([^"\n]*)"|'([^'\n]*)'|([^\s,}\]#][^,}\]\n]*))?/g;
    for (const match of text.matchAll(pair)) {
        const key = match[2];
        const value = match[4] ?? match[5] ?? match[6] ?? "";
        // "http://..." and similar are not key/value pairs.
        if (value.startsWith("//")) continue;
        if (isCredentialName(key) && !isPlaceholderValue(value) && !seen.has(key)) {
            seen.add(key);
            findings.push({ what: `key '${key}'` });
        }
    }
    for (const { pattern, what } of valuePatterns) {
        if (pattern.test(text)) findings.push({ what });
    }
    return findings;
}

/** A plain environment variable that holds a credential. */
export function envCredential(name: string, value: string | undefined): CredentialFinding | undefined {
    if (value === undefined) return undefined;
    if (isCredentialName(name) && !isPlaceholderValue(value)) return { what: `variable '${name}'` };
    const shaped = valuePatterns.find(({ pattern }) => pattern.test(value));
    return shaped === undefined ? undefined : { what: `variable '${name}' (${shaped.what})` };
}

/** Credentials on a command line: `--password=...`-style flags, inline objstore/YAML, known value shapes. */
export function commandCredentials(tokens: readonly string[]): CredentialFinding[] {
    const findings: CredentialFinding[] = [];
    tokens.forEach((token, index) => {
        const flag = /^--?([A-Za-z0-9_.-]+)(=(.*))?$/s.exec(token);
        if (flag) {
            const value = flag[3] ?? (index + 1 < tokens.length && !tokens[index + 1].startsWith("-") ? tokens[index + 1] : undefined);
            if (isCredentialName(flag[1]) && value !== undefined && !isPlaceholderValue(value)) {
                findings.push({ what: `flag '--${flag[1]}'` });
                return;
            }
        }
        findings.push(...findCredentialsInText(token));
    });
    return findings;
}
