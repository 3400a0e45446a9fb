import type { Writer } from './writer.js'
import type { MeterSettings } from './meter-options.js'
import { METER_EXPORTS, METER_IMPORT } from './meter-control.js'
import { nameBytes, signed } from './module-sections.js'
import type { ConstRefs } from './const-exprs.js'
import { SandboxError } from '../errors/index.js'

/**
 * The state the meter adds to a module, and where it sits in the index spaces: the fuel
 * counter, the records of refused grows, the call depth and the profile counters (globals
 * defined after the module's own), and the exports that name them.
 *
 * With `sharedFuel` the counter is imported instead (`METER_IMPORT`), so every instance
 * linked to the same global draws on one budget (a component's core instances). Imported
 * globals come before defined ones, so the module's own globals then move up one: `shift`,
 * which the rewrite applies to `global.get`/`global.set` and the meter to global exports.
 */
export class AppendedState {
  importedFuncs = 0
  importedGlobals = 0
  definedGlobals = 0
  memories = 0

  constructor(private readonly settings: MeterSettings, private readonly profiled: () => number, private readonly deferredStart: number | null) {}

  /** How far the module's own defined globals move. */
  get shift(): number {
    return this.settings.sharedFuel ? 1 : 0
  }

  get fuel(): number {
    return this.settings.sharedFuel ? this.importedGlobals : this.own(0)
  }

  get growDenied(): number { return this.own(this.first) }
  get tableGrowDenied(): number { return this.own(this.first + 1) }
  get depth(): number { return this.own(this.first + 2) }

  /** The profile counters of defined function `i`. */
  profile(i: number): { calls: number; fuel: number } {
    const at = this.own(this.first + this.fixed + 2 * i)
    return { calls: at, fuel: at + 1 }
  }

  /** Globals the meter defines. */
  get definedCount(): number {
    return this.first + this.fixed + 2 * this.profiled()
  }

  /** Writes them (after the module's own, in a global section). */
  writeGlobals(section: Writer): void {
    if (!this.settings.sharedFuel) { section.bytes([0x7e, 0x01, 0x42]); section.bytes(signed(this.settings.initialFuel)); section.byte(0x0b) } // fuel
    section.bytes([0x7e, 0x01, 0x42, 0x00, 0x0b]) // memory grow denied
    section.bytes([0x7e, 0x01, 0x42, 0x00, 0x0b]) // table grow denied
    if (this.settings.stackDepth !== null) section.bytes([0x7f, 0x01, 0x41, 0x00, 0x0b]) // depth
    for (let i = 0; i < this.profiled(); i++) section.bytes([0x7e, 0x01, 0x42, 0x00, 0x0b, 0x7e, 0x01, 0x42, 0x00, 0x0b]) // calls, fuel
  }

  /** The import of a shared counter (after the module's own imports). */
  writeImport(section: Writer): void {
    section.bytes(nameBytes(METER_IMPORT.module)); section.bytes(nameBytes(METER_IMPORT.name))
    section.bytes([0x03, 0x7e, 0x01]) // global (mut i64)
  }

  get exportCount(): number {
    return (this.settings.stackDepth !== null ? 4 : 3) + 2 * this.profiled() + (this.memories > 0 ? 1 : 0) + (this.deferredStart !== null ? 1 : 0) + (this.settings.fast ? 1 : 0)
  }

  writeExports(section: Writer): void {
    const entry = (name: string, kind: number, index: number) => { section.bytes(nameBytes(name)); section.byte(kind); section.u32(index) }
    entry(METER_EXPORTS.fuel, 3, this.fuel)
    entry(METER_EXPORTS.growDenied, 3, this.growDenied)
    entry(METER_EXPORTS.tableGrowDenied, 3, this.tableGrowDenied)
    if (this.settings.stackDepth !== null) entry(METER_EXPORTS.depth, 3, this.depth)
    if (this.memories > 0) entry(METER_EXPORTS.memory, 2, 0)
    if (this.deferredStart !== null) entry(METER_EXPORTS.start, 0, this.deferredStart)
    if (this.settings.fast) entry(METER_EXPORTS.fast, 3, this.fuel)
    for (let i = 0; i < this.profiled(); i++) {
      entry(`${METER_EXPORTS.profileCalls}${this.importedFuncs + i}`, 3, this.profile(i).calls)
      entry(`${METER_EXPORTS.profileFuel}${this.importedFuncs + i}`, 3, this.profile(i).fuel)
    }
  }

  /** Refuses a constant expression reading a global the module defines (with `sharedFuel` it would have moved). */
  refuseOwnGlobalReads(): ConstRefs {
    return {
      global: (index, at) => {
        if (index >= this.importedGlobals) throw new SandboxError('CONFIG', `sharedFuel: a constant expression at byte offset ${at} reads global ${index}, which the module defines (it would move to make room for the imported counter): not supported`, { field: 'sharedFuel', offset: at })
      },
    }
  }

  /** Our k-th defined global. */
  private own(k: number): number {
    return this.importedGlobals + this.shift + this.definedGlobals + k
  }

  /** Where our defined globals after the counter start (it is first unless imported). */
  private get first(): number {
    return this.settings.sharedFuel ? 0 : 1
  }

  /** Refused grows and the depth. */
  private get fixed(): number {
    return this.settings.stackDepth !== null ? 3 : 2
  }
}
