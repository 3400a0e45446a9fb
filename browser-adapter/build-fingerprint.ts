/**
 * The browser's fingerprint of this library's build (part of every compile cache key): the
 * SHA-256 of the text of the module graph reachable by static imports from `root` (the
 * browser platform module, which imports all of core, the meter among it), fetched from the
 * URLs the page loaded them from. Served as separate files, that is every file of core and
 * the adapter; bundled, it is the bundle's chunk(s) holding the library — so a rebuilt meter,
 * a bumped version or (with content-hashed chunk names, as Vite gives) a new jco chunk is a
 * new fingerprint, and its entries are new entries. Only relative and same-origin imports are
 * followed: bare specifiers (an import map's packages) are not, nor dynamic imports (their
 * chunk names are in the text that is hashed).
 */
export function buildFingerprint(root: string): Promise<string> {
  let fingerprint = FINGERPRINTS.get(root)
  if (!fingerprint) {
    fingerprint = hashModuleGraph(root)
    fingerprint.catch(() => FINGERPRINTS.delete(root)) // a failed fetch is tried again next time
    FINGERPRINTS.set(root, fingerprint)
  }
  return fingerprint
}

const FINGERPRINTS = new Map<string, Promise<string>>()

/** More than any build of this library has: past it, something is off (a loop through query strings). */
const MAX_MODULES = 1000

/** `import … from '…'`, `export … from '…'` and `import '…'`, as tsc and bundlers write them. */
const STATIC_IMPORT = /(?:^|[\s;}])(?:import|export)\s*(?:[\w$*{][^'"`;]*?\bfrom\s*)?(['"])([^'"\n]+)\1/g

async function hashModuleGraph(root: string): Promise<string> {
  const origin = new URL(root).origin
  const order: string[] = [root]
  const seen = new Set(order)
  const texts: string[] = []
  // Breadth first, a level at a time: the files of one level are fetched together.
  for (let level = [root]; level.length > 0;) {
    const fetched = await Promise.all(level.map(moduleText))
    texts.push(...fetched)
    const next: string[] = []
    fetched.forEach((text, i) => {
      for (const [, , specifier] of text.matchAll(STATIC_IMPORT)) {
        if (!/^(\.{1,2}\/|\/|https?:)/.test(specifier!)) continue
        const url = new URL(specifier!, level[i]!)
        if (url.origin !== origin || seen.has(url.href)) continue
        seen.add(url.href)
        next.push(url.href)
      }
    })
    if (seen.size > MAX_MODULES) throw new Error(`more than ${MAX_MODULES} modules below ${root}`)
    order.push(...next)
    level = next
  }
  const encoder = new TextEncoder()
  const parts = texts.map((text) => encoder.encode(`\0${text}`))
  const all = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0))
  let at = 0
  for (const part of parts) {
    all.set(part, at)
    at += part.length
  }
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', all))
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')
}

/** The text of a module the page has loaded: from the HTTP cache where it is there. */
async function moduleText(url: string): Promise<string> {
  const response = await fetch(url, { cache: 'force-cache' })
  // A missing file (a false match in a comment, say) is hashed as missing, the same each time.
  return response.ok ? response.text() : `missing: ${response.status}`
}
