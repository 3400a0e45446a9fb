import { createMeterControl, fuelBudget, type MeterControl } from '../meter/meter-control.js'

/**
 * One meter over every core instance of a component. Each core module carries its own
 * fuel counter (the rewrite is per module); before a call each gets the whole remaining
 * budget, and after it their consumption is summed, so `used()` is exact. A call is over
 * budget when any counter ran out (it trapped there) or the sum passed the limit (checked
 * when the call returns): work is bounded by the budget times the number of core modules.
 */
export function componentMeterControl(instances: { exports: object }[], fuel: bigint, stackDepth: number | null): MeterControl {
  const controls = instances.map((instance) => createMeterControl(instance, fuel, stackDepth))
  let limit = fuel
  const sum = () => controls.reduce((total, c) => total + c.used(), 0n)
  return {
    set(value) {
      value = fuelBudget(value)
      limit = value
      for (const c of controls) c.set(value)
    },
    used: () => {
      const used = sum()
      return used > limit ? limit : used
    },
    exhausted: () => controls.some((c) => c.exhausted()) || sum() > limit,
    noteTrap: (error) => { for (const c of controls) c.noteTrap(error) },
    limit: () => limit,
    stackExceeded: () => controls.some((c) => c.stackExceeded()),
    deniedGrowBytes: () => Math.max(0, ...controls.map((c) => c.deniedGrowBytes())),
    deniedTableElements: () => Math.max(0, ...controls.map((c) => c.deniedTableElements())),
    memoryBytes: () => controls.reduce<number | null>((total, c) => (c.memoryBytes() === null ? total : (total ?? 0) + c.memoryBytes()!), null),
  }
}
