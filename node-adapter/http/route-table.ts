import type { Middleware } from './middleware-chain.js'
import type { Attachment, LoadedModule } from './module-spec.js'

/** A module in the table, and what holds it. */
export interface ModuleEntry extends LoadedModule {
  id: string
  name: string
  attach: Attachment
  /** Whether the table closes its pool (not a pool handed to `createHandler`). */
  owned: boolean
  /** Requests holding this entry right now; a removed entry closes when they are done. */
  active: number
  removed: boolean
}

/** What one request runs through, held until it is done. */
export interface HeldModules {
  /** The middleware, outermost first. */
  layers: Middleware[]
  release(): void
}

/**
 * The routes and middleware of `serve()` and `createHandler`, in the order they were
 * added (the middleware's order). Modules come and go at run time (the admin API) without
 * dropping requests in flight: a request holds the modules it started with, and a removed
 * module's pool closes once the last of them is done.
 */
export class RouteTable {
  private readonly entries: ModuleEntry[] = []
  private nextId = 1

  /** Adds a module once it has loaded; its id is taken at once, so ids follow the order of the calls. */
  async add(name: string, attach: Attachment, module: LoadedModule | Promise<LoadedModule>, owned = true): Promise<ModuleEntry> {
    const id = `m${this.nextId++}`
    const entry: ModuleEntry = { ...await module, id, name, attach, owned, active: 0, removed: false }
    this.entries.push(entry)
    return entry
  }

  async remove(entry: ModuleEntry): Promise<void> {
    entry.removed = true
    this.entries.splice(this.entries.indexOf(entry), 1)
    if (entry.active === 0 && entry.owned) await entry.pool.close()
  }

  get(id: string): ModuleEntry | undefined {
    return this.entries.find((e) => e.id === id)
  }

  list(): readonly ModuleEntry[] {
    return this.entries
  }

  /** The most specific route for a path (a trailing `*` is a prefix). */
  find(path: string): ModuleEntry | null {
    let best: ModuleEntry | null = null
    let bestLength = -1
    for (const e of this.entries) {
      if (!('route' in e.attach)) continue
      const pattern = e.attach.route
      const prefix = pattern.endsWith('*')
      const base = prefix ? pattern.slice(0, -1) : pattern
      if ((prefix ? path.startsWith(base) : path === base) && base.length > bestLength) { best = e; bestLength = base.length }
    }
    return best
  }

  /** Holds the middleware there is now and `route` for one request. */
  hold(route: ModuleEntry): HeldModules {
    const held = [...this.entries.filter((e) => e.layer), route]
    for (const e of held) e.active++
    return {
      layers: held.slice(0, -1).map((e) => e.layer!),
      release: () => {
        for (const e of held) if (--e.active === 0 && e.removed && e.owned) void e.pool.close()
      },
    }
  }

  /**
   * Closes every pool the table owns, whatever holds it. The routes stay: a request that
   * still comes is refused by its closed pool (503 CLOSED), not told there is no route.
   */
  async close(): Promise<void> {
    await Promise.all(this.entries.filter((e) => e.owned).map((e) => e.pool.close()))
  }
}
