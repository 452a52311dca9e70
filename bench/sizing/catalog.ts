/**
 * What a plan promises: the active series and targets its description advertises to Tsuru users
 * ("Up to ~50 targets / ~50k active series; ..."). The benchmark loads each plan with exactly that, and the
 * margin test holds the description to the load that was measured.
 */
import { Plan } from "../../components/plans";

export interface AdvertisedLoad {
    readonly targets: number;
    readonly series: number;
}

const multipliers: Record<string, number> = { "": 1, k: 1e3, M: 1e6 };

export function advertisedLoad(plan: Pick<Plan, "name" | "description">): AdvertisedLoad {
    const match = /~(\d+(?:\.\d+)?)([kM]?) targets \/ ~(\d+(?:\.\d+)?)([kM]?) active series/.exec(plan.description);
    if (match === null) {
        throw new Error(`plan ${plan.name}: its description must advertise "~<n> targets / ~<n>[k|M] active series", got '${plan.description}'`);
    }
    return { targets: Math.round(Number(match[1]) * multipliers[match[2]]), series: Math.round(Number(match[3]) * multipliers[match[4]]) };
}
