// A separate process creating one module through the persistent compile cache (the in-memory
// cache of the test's own process would answer first). Prints its cache events and the result.
import { Sandbox } from 'wasm-sandbox'

const [dir, source, optionsJson, fn, ...args] = process.argv.slice(2)
const events = []
try {
  const sb = await Sandbox.create(source, { ...JSON.parse(optionsJson), cacheDir: dir, onEvent: (e) => { if (e.type === 'compile-cache') events.push(e) } })
  let result
  try {
    result = { ok: true, value: await sb.call(fn, ...args.map(Number)) }
  } catch (error) {
    result = { ok: false, code: error.code }
  }
  await sb.close()
  console.log(JSON.stringify({ events, result }))
} catch (error) {
  console.log(JSON.stringify({ events, createError: error.code ?? String(error) }))
}
