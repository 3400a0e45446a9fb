import { createMeterControl, fuelBudget, type MeterControl } from '../meter/meter-control.js'

/**
 * One meter over every core instance of a component. They share one fuel counter (metered
 * with `sharedFuel`, all linked to one global by the worker), so any instance's control
 * reads and sets the whole component's budget; the other limit state (depth, refused
 * grows, memory) is each instance's own.
 */
export function componentMeterControl(instances: { exports: object }[], fuel: bigint, stackDepth: number | null): MeterControl {
  const controls = instances.map((instance) => createMeterControl(instance, fuel, stackDepth))
  let limit = fuel
  const counter = () => controls[0] // the shared one, seen through the first instance
  return {
    set(value) {
      value = fuelBudget(value)
      limit = value
      for (const c of controls) c.set(value) // the counter, and each instance's depth and grow records
    },
    used: () => counter()?.used() ?? 0n,
    exhausted: () => counter()?.exhausted() ?? false,
    noteTrap: (error) => counter()?.noteTrap(error),
    limit: () => limit,
    stackExceeded: () => controls.some((c) => c.stackExceeded()),
    deniedGrowBytes: () => Math.max(0, ...controls.map((c) => c.deniedGrowBytes())),
    deniedTableElements: () => Math.max(0, ...controls.map((c) => c.deniedTableElements())),
    memoryBytes: () => controls.reduce<number | null>((total, c) => (c.memoryBytes() === null ? total : (total ?? 0) + c.memoryBytes()!), null),
  }
}
