// The playground's service worker: every response it serves is cached (so the playground
// works offline after the first load) and carries COOP/COEP (so a static host without those
// headers still gets a cross-origin-isolated page: SharedArrayBuffer, host functions).
const CACHE = 'wasm-sandbox-playground-v1'

// Everything the build produced (precache.json is written by vite.config.ts), so that parts
// loaded on demand (the sandbox worker, wabt, jco) are there offline too.
self.addEventListener('install', (event) => event.waitUntil((async () => {
  const cache = await caches.open(CACHE)
  const files = await fetch('./precache.json').then((r) => r.json(), () => [])
  await cache.addAll(files)
  await self.skipWaiting()
})()))
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()))

function isolated(response) {
  if (response.status === 0) return response // opaque: cannot be changed
  const headers = new Headers(response.headers)
  headers.set('Cross-Origin-Opener-Policy', 'same-origin')
  headers.set('Cross-Origin-Embedder-Policy', 'require-corp')
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers })
}

self.addEventListener('fetch', (event) => {
  const request = event.request
  if (request.method !== 'GET' || new URL(request.url).origin !== location.origin) return
  event.respondWith((async () => {
    const cache = await caches.open(CACHE)
    try {
      // Network first, so a new deployment is picked up; the cache answers offline.
      const response = await fetch(request)
      if (response.ok) await cache.put(request, response.clone())
      return isolated(response)
    } catch (error) {
      const cached = await cache.match(request, { ignoreSearch: true }) ?? (request.mode === 'navigate' ? await cache.match('./') : undefined)
      if (cached) return isolated(cached)
      throw error
    }
  })())
})
