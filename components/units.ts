/** Size and duration parsing shared by config validation and renderers. */

const binaryUnits: Record<string, number> = { Ki: 1 / 1024, Mi: 1, Gi: 1024, Ti: 1024 * 1024 };

/** Parses a Kubernetes binary quantity ("512Mi", "2Gi") into MiB; undefined when malformed. */
export function parseMiB(quantity: string): number | undefined {
    const match = /^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti)$/.exec(quantity);
    if (!match) return undefined;
    return Number(match[1]) * binaryUnits[match[2]];
}

/** Kubernetes quantity for a MiB amount. */
export function mebibytes(mib: number): string {
    return `${Math.round(mib)}Mi`;
}

/** Prometheus size flag for a MiB amount (Prometheus units are base 2: "MB" is 2^20 bytes). */
export function prometheusSize(mib: number): string {
    return `${Math.round(mib)}MB`;
}

const durationUnits: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };

/** Parses a Prometheus duration ("30s", "6h", "1d12h", "1y") into seconds; undefined when malformed. */
export function parseDurationSeconds(duration: string): number | undefined {
    if (!/^([0-9]+(ms|s|m|h|d|w|y))+$/.test(duration)) return undefined;
    let seconds = 0;
    for (const [, amount, unit] of duration.matchAll(/([0-9]+)(ms|s|m|h|d|w|y)/g)) {
        seconds += unit === "ms" ? Number(amount) / 1000 : Number(amount) * durationUnits[unit];
    }
    return seconds;
}

/** A Prometheus duration for whole seconds, in the largest unit that divides it ("1d", "36h", "150s"). */
export function prometheusDuration(seconds: number): string {
    for (const unit of ["d", "h", "m"] as const) {
        if (seconds > 0 && seconds % durationUnits[unit] === 0) return `${seconds / durationUnits[unit]}${unit}`;
    }
    return `${seconds}s`;
}
