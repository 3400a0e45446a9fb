// Runs the shared conformance suite against the browser adapter, resolved through the
// package's `exports` (the `browser` condition), and leaves the results on `window`.
import * as api from 'wasm-sandbox'
import { runSuite } from '../../test/conformance/suite.js'

const out = document.getElementById('out')!
const only = new URLSearchParams(location.search).get('only')
runSuite(api as never, only ? only.split(',') : undefined).then(
  (results) => {
    ;(window as unknown as { __results: unknown }).__results = { crossOriginIsolated: globalThis.crossOriginIsolated, results }
    out.textContent = JSON.stringify(results, null, 2)
  },
  (error) => {
    ;(window as unknown as { __results: unknown }).__results = { error: String(error?.stack ?? error) }
    out.textContent = String(error)
  },
)
